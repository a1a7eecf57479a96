"""Where gallery files live on disk, and naming new ones.

``gallery/<day>/<name>.png`` holds generated images, ``gallery/imported/<day>/<name>`` imported
ones (the ``imported`` folder tells a rebuild the origin). ``<day>`` is the local date the entry
was created (``2024-05-17``); a day past :data:`FOLDER_LIMIT` entries continues in
``2024-05-17-2`` and so on. Day folders keep every folder small, so the background reconcile
lists only the few folders whose modification time changed (:mod:`.reconcile`). Files a
person puts anywhere else under the gallery folder (the top included) are indexed where they
are. A deleted entry moves to the same relative name under ``trash/`` in the data folder. New
names are unique across gallery *and* trash, so a file name is a stable key of an entry
whichever folder it is in.
"""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

IMPORTED_FOLDER = "imported"
TRASH_FOLDER = "trash"
FOLDER_LIMIT = 1000
"""Entries per day folder: listing a changed folder stays a millisecond affair."""
_UNSAFE = re.compile(r"[^\w.\-]+")
# write_atomic's temporary names: ".<name>.<pid>.tmp".
_TEMPORARY = re.compile(r"\..+\.(\d+)\.tmp")
STALE_AFTER_S = 3600.0
"""A temporary file this old is left over from a crash whatever its pid says (pids recycle)."""


@functools.lru_cache(maxsize=1)
def image_suffixes() -> frozenset[str]:
    """File suffixes Pillow can open (lower-case, with the dot)."""
    return frozenset(suffix.lower() for suffix in Image.registered_extensions())


def is_candidate(name: str) -> bool:
    """A file the gallery should index: an image suffix, not hidden (our temp files are)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in image_suffixes()


def safe_stem(text: str, limit: int = 80) -> str:
    """A file-name stem that is safe on every platform."""
    stem = _UNSAFE.sub("_", text).strip("._") or "image"
    return stem[:limit]


@dataclass(frozen=True)
class GalleryLayout:
    gallery_dir: Path
    trash_dir: Path

    def live_path(self, file_name: str) -> Path:
        return self.gallery_dir / file_name

    def trash_path(self, file_name: str) -> Path:
        return self.trash_dir / file_name

    def ensure(self) -> None:
        for folder in (self.gallery_dir, self.trash_dir):
            (folder / IMPORTED_FOLDER).mkdir(parents=True, exist_ok=True)

    def list_folder(self, folder: str) -> FolderListing:
        """The image files and sub-folders of one folder (relative, "/"-separated; '' is the
        top) in the gallery and in the trash; stale temporaries found there are deleted."""
        listing = FolderListing()
        for root, names in ((self.gallery_dir, listing.live), (self.trash_dir, listing.trashed)):
            directory = root / folder if folder else root
            prefix = f"{folder}/" if folder else ""
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            if not entry.name.startswith("."):
                                listing.folders.add(prefix + entry.name)
                        elif is_candidate(entry.name):
                            if entry.is_file(follow_symlinks=False):
                                names.add(prefix + entry.name)
                        elif root is self.gallery_dir and _remove_if_stale(entry):
                            listing.temporaries_removed += 1
            except (FileNotFoundError, NotADirectoryError):
                continue
        return listing

    def unique_name(self, folder: str, stem: str, suffix: str) -> str:
        """``folder/stem.png``, else ``folder/stem-2.png``…: free in the gallery and the trash."""
        prefix = f"{folder}/" if folder else ""
        candidate = f"{prefix}{stem}{suffix}"
        counter = 2
        while self.live_path(candidate).exists() or self.trash_path(candidate).exists():
            candidate = f"{prefix}{stem}-{counter}{suffix}"
            counter += 1
        return candidate


@dataclass
class FolderListing:
    live: set[str] = field(default_factory=set)
    """Image files in the gallery folder, relative to the gallery folder."""
    trashed: set[str] = field(default_factory=set)
    """Image files in the same folder under the trash."""
    folders: set[str] = field(default_factory=set)
    """Sub-folders in either (hidden ones left out)."""
    temporaries_removed: int = 0


def day_folder(created: float, imported: bool, part: int = 1) -> str:
    """The folder of an entry created at ``created``: ``2024-05-17`` or ``imported/…``; part 2
    and on (``2024-05-17-2``) take the entries of a day past :data:`FOLDER_LIMIT`."""
    day = time.strftime("%Y-%m-%d", time.localtime(created))
    name = day if part == 1 else f"{day}-{part}"
    return f"{IMPORTED_FOLDER}/{name}" if imported else name


def listed_day_folder(gallery_dir: Path, created: float) -> str:
    """The day folder for a file saved while the index cannot be opened: the first part of the
    day with room, counted by listing it (there is no index to ask)."""
    part = 1
    while True:
        folder = day_folder(created, False, part)
        try:
            with os.scandir(gallery_dir / folder) as entries:
                count = sum(is_candidate(entry.name) for entry in entries)
        except (FileNotFoundError, NotADirectoryError):
            return folder
        if count < FOLDER_LIMIT:
            return folder
        part += 1


def parent_folder(folder: str) -> str:
    return folder.rpartition("/")[0]


def _remove_if_stale(entry: os.DirEntry[str]) -> bool:
    """Delete ``entry`` if it is a temporary of a save that was killed before its rename."""
    match = _TEMPORARY.fullmatch(entry.name)
    if match is None or not entry.is_file(follow_symlinks=False):
        return False
    try:
        age = time.time() - entry.stat().st_mtime
        if age > STALE_AFTER_S or not _process_alive(int(match.group(1))):
            os.unlink(entry.path)
            return True
    except OSError:
        pass  # another process removed or renamed it meanwhile
    return False


def _process_alive(pid: int) -> bool:
    """Whether a process with this id runs; True where we cannot tell (then age decides)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True

