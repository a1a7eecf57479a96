"""Where gallery files live on disk, and naming new ones.

``gallery/<name>.png`` holds generated images, ``gallery/imported/<name>`` imported ones (the
folder tells a rebuild the origin). A deleted entry moves to the same relative name under
``trash/`` in the data folder. New names are unique across gallery *and* trash, so a file name
is a stable key of an entry whichever folder it is in.
"""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

IMPORTED_FOLDER = "imported"
TRASH_FOLDER = "trash"
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

    def scan(self) -> tuple[set[str], set[str]]:
        """File names in the gallery and in the trash (one ``scandir`` per folder: cheap)."""
        return _scan(self.gallery_dir), _scan(self.trash_dir)

    def remove_stale_temporaries(self) -> int:
        """Delete temp files of saves that were killed before their rename; returns how many."""
        removed = 0
        for folder in (self.gallery_dir, self.gallery_dir / IMPORTED_FOLDER):
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                match = _TEMPORARY.fullmatch(entry.name)
                if match is None or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    age = time.time() - entry.stat().st_mtime
                    if age > STALE_AFTER_S or not _process_alive(int(match.group(1))):
                        os.unlink(entry.path)
                        removed += 1
                except OSError:
                    continue  # another process removed or renamed it meanwhile
        return removed

    def unique_name(self, stem: str, suffix: str, imported: bool = False) -> str:
        """``stem.png``, else ``stem-2.png``…: free in both the gallery and the trash."""
        prefix = f"{IMPORTED_FOLDER}/" if imported else ""
        candidate = f"{prefix}{stem}{suffix}"
        counter = 2
        while self.live_path(candidate).exists() or self.trash_path(candidate).exists():
            candidate = f"{prefix}{stem}-{counter}{suffix}"
            counter += 1
        return candidate


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


def _scan(root: Path) -> set[str]:
    names: set[str] = set()
    for folder, prefix in ((root, ""), (root / IMPORTED_FOLDER, f"{IMPORTED_FOLDER}/")):
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if is_candidate(entry.name) and entry.is_file(follow_symlinks=False):
                        names.add(prefix + entry.name)
        except FileNotFoundError:
            continue
    return names
