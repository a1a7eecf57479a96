"""What an image file says about itself, in the shape of an index row.

Two readers: our own PNGs are read fast from the text chunk before the pixel data (a rebuild of
thousands of images must not decode every pixel); anything else goes through the importers of
other tools (:mod:`sd21_desktop.gallery.importers`), falling back to our own reader when that
package is absent.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PIL import Image

from sd21_desktop.engine.request import SCHEMA_VERSION, GenerationRequest
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import parse_iso_time
from sd21_desktop.gallery.metadata import METADATA_KEY, ImageRecord, read_record

OWN_SOURCE = "sd21-desktop"
_REQUEST_FIELDS = frozenset(item.name for item in fields(GenerationRequest))


class NotAnImageError(Exception):
    """The file is not an image Pillow can read; ``str()`` says why in plain words."""


@dataclass(frozen=True)
class ImageFacts:
    width: int
    height: int
    request: GenerationRequest | None = None
    record: ImageRecord | None = None
    """Present only for images made by this app."""
    source: str | None = None
    has_metadata: bool = False
    prompt: str = ""
    negative_prompt: str = ""
    model: str | None = None
    mode: str | None = None
    seed: int | None = None
    batch_index: int = 0
    created: float | None = None
    """When our record says the image was saved."""
    details: dict[str, Any] = field(default_factory=dict)
    image_format: str | None = None
    """Pillow's name of the file format ("PNG", "JPEG"…)."""
    request_json: str | None = None
    """``request.to_json()`` when the file's own text gave it for free (see
    :func:`_canonical_text`); else None, and the row's writer makes it."""

    def request_text(self) -> str | None:
        """The request's JSON text, as the index stores it."""
        if self.request_json is not None:
            return self.request_json
        return self.request.to_json() if self.request is not None else None


def facts_from_record(record: ImageRecord, width: int, height: int) -> ImageFacts:
    request = record.request
    created = record.runtime.get("created")
    return ImageFacts(
        width=width,
        height=height,
        request=request,
        record=record,
        source=OWN_SOURCE,
        has_metadata=True,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        model=request.model,
        mode=request.mode,
        seed=record.seed,
        batch_index=record.batch_index,
        created=parse_iso_time(created) if isinstance(created, str) else None,
    )


def _own_record_fast(image: Image.Image) -> tuple[ImageRecord, str | None] | None:
    """Our JSON chunk when it sits before the pixel data (always, for PNGs we wrote), and the
    request's text when that is already what the index stores."""
    text = image.info.get(METADATA_KEY)
    if not isinstance(text, str):
        return None
    try:
        payload = json.loads(text)
        record = ImageRecord.from_payload(payload)
    except (ValueError, TypeError, UserFacingError):
        return None
    return record, _canonical_text(payload["request"])


def _canonical_text(data: dict[str, Any]) -> str | None:
    """``GenerationRequest.to_json()`` of a request saved by this schema version, without the
    field walk (a fifth of a rebuild's time): such a dict, every field present, is
    ``to_dict()``'s output, and dumping it again with sorted keys gives the same text (tested).
    None for an older or partial one: its request, upgraded, is written out instead."""
    if data.get("schema_version") != SCHEMA_VERSION or data.keys() != _REQUEST_FIELDS:
        return None
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _open_size(
    source: Path | bytes, decode: bool
) -> tuple[int, int, str | None, tuple[ImageRecord, str | None] | None]:
    """Size, format and (when cheap to get) our record of an image, after checking it.

    ``decode`` decodes every pixel; otherwise ``verify()`` checks the file's structure (for PNG:
    every chunk's CRC through IEND) without decompressing, so a truncated copy is still refused.
    """
    try:
        handle = io.BytesIO(source) if isinstance(source, bytes) else source
        with Image.open(handle) as image:
            size = image.size
            image_format = image.format
            own = _own_record_fast(image)
            if decode:
                image.load()
            else:
                image.verify()
    except Image.DecompressionBombError as error:
        raise NotAnImageError(f"The image is too large to open safely ({error}).") from None
    except Image.UnidentifiedImageError:  # its message names a BytesIO object: say it plainly
        raise NotAnImageError(
            "This is not an image file that can be read (unknown format, or damaged)."
        ) from None
    except Exception as error:  # Pillow raises many kinds on malformed files; all mean "not one"
        detail = str(error) or type(error).__name__
        raise NotAnImageError(f"This is not an image file that can be read ({detail}).") from None
    return size[0], size[1], image_format, own


def _imported_facts(path: Path, data: bytes | None, width: int, height: int) -> ImageFacts:
    """Settings from another tool's metadata; an image with none is still an image."""
    try:
        from sd21_desktop.gallery import importers
    except ImportError:
        record = read_record(path)
        if record is not None:
            return facts_from_record(record, width, height)
        return ImageFacts(width, height)
    try:
        if data is not None and hasattr(importers, "read_image_metadata_bytes"):
            meta: Any = importers.read_image_metadata_bytes(data)
        else:
            meta = importers.read_image_metadata(path)
    except Exception as error:  # an importer bug must not stop an import or a rebuild
        return ImageFacts(width, height, details={"problem": f"Metadata unreadable: {error}"})
    record = getattr(meta, "record", None)
    if isinstance(record, ImageRecord):
        return facts_from_record(record, width, height)
    found = bool(getattr(meta, "found", getattr(meta, "source", "none") != "none"))
    if not found:
        problem = getattr(meta, "problem", None)
        return ImageFacts(width, height, details={"problem": problem} if problem else {})
    request: GenerationRequest | None
    details = {
        key: getattr(meta, key, None)
        for key in ("steps", "cfg_scale", "sampler", "schedule", "problem")
    }
    try:
        request = meta.to_request()
        # How sure the re-run's model is: the detail pane shows the note next to both names.
        details["model_note"] = meta.checkpoint_choice().note if request is not None else None
    except Exception as error:  # a setting out of our range: keep the image, without a re-run
        request = None
        details["problem"] = details["problem"] or f"Cannot be re-run: {error}"
    extra = getattr(meta, "extra", None)
    if extra:
        details["extra"] = dict(extra)
    return ImageFacts(
        width=width,
        height=height,
        request=request,
        source=str(meta.source),
        has_metadata=True,
        prompt=meta.prompt or "",
        negative_prompt=meta.negative_prompt or "",
        model=meta.model,
        seed=meta.seed if isinstance(meta.seed, int) else None,
        details={key: value for key, value in details.items() if value is not None},
    )


def read_facts(path: Path, data: bytes | None = None, decode: bool = False) -> ImageFacts:
    """Facts about the image at ``path`` (``data``: its bytes, when already read).

    ``decode=True`` decodes every pixel (imports: anything may come in); without it the file's
    structure is checked but not decompressed (rebuilds of thousands of our own PNGs).
    Raises :class:`NotAnImageError`.
    """
    width, height, image_format, own = _open_size(data if data is not None else path, decode)
    if own is None:
        facts = _imported_facts(path, data, width, height)
        return replace(facts, image_format=image_format)
    record, request_json = own
    facts = facts_from_record(record, width, height)
    return replace(facts, image_format=image_format, request_json=request_json)
