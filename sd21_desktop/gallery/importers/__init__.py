"""Reading generation settings from images made by any common SD tool.

``read_image_metadata(path)`` opens a file, collects every metadata string it carries
(:mod:`.containers`) and asks each tool's importer, most specific first, to read them. It never
raises for what a file contains: an image with nothing usable, a damaged file or a file that is
not an image at all gives ``source="none"`` and a ``problem`` a person can read. Only a path that
cannot be read raises :class:`~sd21_desktop.errors.UserFacingError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.importers import (
    a1111,
    comfyui,
    easydiffusion,
    fooocus,
    hfspace,
    invokeai,
    novelai,
    own,
    stabilitymatrix,
    swarmui,
    tensorart,
)
from sd21_desktop.gallery.importers.a1111 import parse_infotext
from sd21_desktop.gallery.importers.containers import Sources, read_sources, with_stealth
from sd21_desktop.gallery.importers.result import SOURCES, ImportedMetadata, nothing_found

__all__ = [
    "SOURCES",
    "ImportedMetadata",
    "parse_infotext",
    "read_image_metadata",
    "read_image_metadata_bytes",
]

Importer = Callable[[Sources], ImportedMetadata | str | None]

# Most specific first: tools that also write a generic chunk ("parameters", a ComfyUI "prompt")
# must be recognised by their own marks before the generic readers see those chunks.
IMPORTERS: tuple[tuple[str, Importer], ...] = (
    ("sd21-desktop", own.parse),
    ("stability-matrix", stabilitymatrix.parse),
    ("tensorart", tensorart.parse),
    ("swarmui", swarmui.parse),
    ("invokeai", invokeai.parse),
    ("novelai", novelai.parse),
    ("fooocus", fooocus.parse),
    ("easydiffusion", easydiffusion.parse),
    ("hf-space", hfspace.parse),
    ("a1111", a1111.parse),
    ("comfyui", comfyui.parse),
)
NO_METADATA = "No generation settings were found in this image."
# Files larger than this are not images a person means to import settings from.
MAX_FILE_BYTES = 512 * 1024 * 1024


def _run_importers(sources: Sources) -> tuple[ImportedMetadata | None, list[str]]:
    notes: list[str] = []
    for name, importer in IMPORTERS:
        try:
            found = importer(sources)
        except Exception as error:  # a bug in one importer must not hide the others
            notes.append(f"The {name} importer failed ({type(error).__name__}: {error}).")
            continue
        if isinstance(found, ImportedMetadata):
            return found, notes
        if isinstance(found, str):
            notes.append(found)
    return None, notes


def read_image_metadata_bytes(data: bytes) -> ImportedMetadata:
    """Like :func:`read_image_metadata`, for a file's bytes already in memory. Never raises."""
    try:
        return _read(data)
    except Exception as error:  # the promise is "never raises"; keep it even on a bug
        return nothing_found(f"The metadata could not be read ({type(error).__name__}: {error}).")


def _read(data: bytes) -> ImportedMetadata:
    if not data:
        return nothing_found("The file is empty.")
    try:
        sources = read_sources(data)
    except Exception as error:
        return nothing_found(
            f"This is not an image file that can be read ({type(error).__name__})."
        )
    found, notes = _run_importers(sources)
    if found is None and sources.stealth_possible:
        # Only when the text metadata gave nothing: reading stealth data decodes every pixel.
        sources = with_stealth(sources, data)
        if sources.stealth is not None:
            found, more = _run_importers(sources)
            notes += more
    if found is None:
        if notes:
            problem = notes[0]
        elif sources.problems:
            problem = f"{NO_METADATA} {sources.problems[0]}"
        else:
            problem = NO_METADATA
        return nothing_found(problem, sources.raw)
    return replace(
        found,
        raw=dict(sources.raw),
        image_width=sources.width,
        image_height=sources.height,
        # e.g. our own chunk was damaged and the A1111 copy was read instead: say so.
        problem=found.problem or (notes[0] if notes else None),
    )


def read_image_metadata(path: str | Path) -> ImportedMetadata:
    """The generation settings stored in the image at ``path``, from whichever tool made it.

    Raises :class:`UserFacingError` only when ``path`` cannot be read (missing, a folder, no
    permission); any content, however broken, gives an :class:`ImportedMetadata`.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise UserFacingError(f"{file} is a folder, not an image file.")
        if size > MAX_FILE_BYTES:
            return nothing_found(f"The file is too large ({size // (1024 * 1024)} MB) to read.")
        data = file.read_bytes()
    except FileNotFoundError:
        raise UserFacingError(f"The image {file} does not exist.") from None
    except PermissionError:
        raise UserFacingError(
            f"The image {file} cannot be read: permission denied.", "Check the file's permissions."
        ) from None
    except OSError as error:
        raise UserFacingError(
            f"The image {file} cannot be read ({error.strerror or error})."
        ) from None
    return read_image_metadata_bytes(data)
