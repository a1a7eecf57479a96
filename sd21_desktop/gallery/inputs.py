"""Input images and masks of img2img/inpaint jobs, stored once each under their sha256.

Content addressing means a mask reused by fifty generations is one file, and a request can name
its inputs by a short, stable string. Files are written atomically; an existing file with the
same hash is never rewritten.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.files import write_atomic

_DIGEST = re.compile(r"[0-9a-f]{64}")


class InputStore:
    """``folder/<sha256>`` blobs (no suffix: the bytes may be any image format)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def store(self, data: bytes) -> str:
        """Save ``data`` (an encoded image) and return its sha256, lower-case hex."""
        if not data:
            raise UserFacingError("The input image is empty.", "Choose another image.")
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            write_atomic(target, data)
        return digest

    def path(self, digest: str) -> Path:
        """Where the input with this hash lives (it may not exist)."""
        if not _DIGEST.fullmatch(digest):
            # Also keeps a hash read from a file from naming a path outside the folder.
            raise UserFacingError(f"{digest!r} is not an input image id (a sha256 in hex).")
        return self.folder / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()
