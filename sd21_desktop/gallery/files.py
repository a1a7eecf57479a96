"""Crash-safe file writes: a temporary name, flushed to disk, then renamed into place."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either absent or complete, whatever happens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def unique_path(folder: Path, stem: str, suffix: str = ".png") -> Path:
    """``folder/stem.png``, or ``stem-2.png``… if taken: never overwrite a user's image."""
    candidate = folder / f"{stem}{suffix}"
    counter = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{counter}{suffix}"
        counter += 1
    return candidate


_WRITE_PROBLEMS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the folder is read-only",
    errno.ENOENT: "the folder is gone",
}


def describe_write_error(error: BaseException) -> str:
    """Why a file could not be written, in words a person can act on."""
    if isinstance(error, OSError):
        what = _WRITE_PROBLEMS.get(error.errno or 0, error.strerror or str(error))
        where = ""
        if error.filename:
            path = Path(str(error.filename))
            # A temporary name means nothing to a person: name its folder.
            shown = path.parent if path.name.startswith(".") and path.suffix == ".tmp" else path
            where = f" ({shown})"
        return f"{what[0].upper()}{what[1:]}{where}"
    return f"The gallery index could not be written ({error})"
