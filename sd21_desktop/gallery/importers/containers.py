"""Every metadata string an image file carries, whatever its container.

This layer knows file formats and text encodings, nothing about SD tools: it turns PNG text
chunks, EXIF tags, a JPEG comment and (on demand) stealth pixel data into :class:`Sources`,
which the per-tool parsers read. It never raises for bad content; problems become notes.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field, replace

from PIL import Image

from sd21_desktop.gallery.importers.exif import ExifText, read_exif_bytes, read_exif_text
from sd21_desktop.gallery.importers.png import PNG_SIGNATURE, decode_latin1_or_utf8, read_png_text
from sd21_desktop.gallery.importers.stealth import read_stealth

# Formats whose pixels can hide a stealth payload (lossless, or with lossless alpha).
_STEALTH_FORMATS = ("PNG", "WEBP")


@dataclass(frozen=True)
class Sources:
    """The metadata strings of one file, by where they were found."""

    format: str | None = None
    width: int | None = None
    height: int | None = None
    #: PNG text chunks by keyword (the first chunk wins when a keyword repeats).
    texts: dict[str, str] = field(default_factory=dict)
    #: EXIF text by tag name: ``UserComment``, ``ImageDescription``, ``Make``, ``Model``…
    exif: dict[str, str] = field(default_factory=dict)
    comment: str | None = None
    stealth: str | None = None
    raw: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    #: True when the pixels could hold a stealth payload not read yet.
    stealth_possible: bool = False


def _merge_exif(exif: ExifText, named: dict[str, str], raw: dict[str, str]) -> None:
    for key, value in exif.named.items():
        named.setdefault(key, value)
    for key, value in exif.raw.items():
        raw.setdefault(key, value)


def _read_png(data: bytes) -> Sources:
    chunks = read_png_text(data)
    texts: dict[str, str] = {}
    raw: dict[str, str] = {}
    for kind, key, text in chunks.texts:
        texts.setdefault(key, text)
        raw.setdefault(f"png:{kind}:{key}", text)
    named: dict[str, str] = {}
    problems = list(chunks.problems)
    if chunks.exif is not None:
        exif = read_exif_bytes(chunks.exif)
        _merge_exif(exif, named, raw)
        problems += exif.problems
    return Sources(
        format="PNG",
        width=chunks.width,
        height=chunks.height,
        texts=texts,
        exif=named,
        raw=raw,
        problems=tuple(problems),
        stealth_possible=True,
    )


def _read_with_pillow(data: bytes) -> Sources:
    # Pillow warns about damaged files (truncated EXIF, huge sizes); the notes in Sources say it
    # better, and nothing here decodes pixels.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(io.BytesIO(data)) as image:
            return _describe(image)


def _describe(image: Image.Image) -> Sources:
    named: dict[str, str] = {}
    raw: dict[str, str] = {}
    problems: list[str] = []
    try:
        exif = read_exif_text(image.getexif())
    except Exception as error:  # a broken EXIF block must not hide the rest
        problems.append(f"The EXIF block is damaged ({type(error).__name__}).")
    else:
        _merge_exif(exif, named, raw)
        problems += exif.problems
    comment = image.info.get("comment")  # a JPEG COM segment
    comment_text: str | None = None
    if isinstance(comment, bytes):
        comment_text = decode_latin1_or_utf8(comment)
    elif isinstance(comment, str):
        comment_text = comment
    if comment_text:
        raw["jpeg:comment"] = comment_text
    return Sources(
        format=image.format,
        width=image.size[0],
        height=image.size[1],
        exif=named,
        comment=comment_text or None,
        raw=raw,
        problems=tuple(problems),
        stealth_possible=image.format in _STEALTH_FORMATS,
    )


def read_sources(data: bytes) -> Sources:
    """The metadata strings of an image file's bytes; raises only for non-images (OSError…)."""
    if data.startswith(PNG_SIGNATURE):
        return _read_png(data)
    return _read_with_pillow(data)


def with_stealth(sources: Sources, data: bytes) -> Sources:
    """``sources`` plus the stealth payload in the pixels, if any (decodes the whole image)."""
    if not sources.stealth_possible:
        return sources
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                found = read_stealth(image)
    except Exception as error:  # undecodable pixels: the text metadata still stands
        note = f"The image data could not be decoded ({type(error).__name__})."
        return replace(sources, stealth_possible=False, problems=(*sources.problems, note))
    if found is None:
        return replace(sources, stealth_possible=False)
    signature, text = found
    raw = {**sources.raw, f"stealth:{signature}": text}
    return replace(sources, stealth=text, raw=raw, stealth_possible=False)
