"""Our own image metadata: what goes into every PNG we write, and reading it back.

Each PNG carries two text chunks: ``parameters`` (AUTOMATIC1111 infotext, so other tools read our
images) and ``sd21-desktop`` (JSON: the full request, the image's seed and batch index, and how it
was run). Non-ASCII text goes into iTXt (UTF-8), as the PNG spec wants.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from sd21_desktop.engine.request import MAX_SEED, GenerationRequest
from sd21_desktop.errors import InvalidRequestError
from sd21_desktop.gallery.infotext import format_infotext

METADATA_KEY = "sd21-desktop"
PARAMETERS_KEY = "parameters"
METADATA_FORMAT = 1


@dataclass(frozen=True)
class ImageRecord:
    """What one of our images says about itself."""

    request: GenerationRequest
    seed: int
    batch_index: int
    runtime: dict[str, Any]

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": METADATA_FORMAT,
            "request": self.request.to_dict(),
            "seed": self.seed,
            "batch_index": self.batch_index,
            "runtime": self.runtime,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> ImageRecord:
        if not isinstance(payload, dict) or not isinstance(payload.get("request"), dict):
            raise InvalidRequestError("metadata", "The image's sd21-desktop metadata is malformed.")
        request = GenerationRequest.from_dict(payload["request"])
        seed = payload.get("seed", request.seed)
        index = payload.get("batch_index", 0)
        runtime = payload.get("runtime", {})
        if not isinstance(seed, int) or not isinstance(index, int) or not isinstance(runtime, dict):
            raise InvalidRequestError("metadata", "The image's sd21-desktop metadata is malformed.")
        if isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
            raise InvalidRequestError(
                "seed", f"The image's seed must be from 0 to {MAX_SEED}; got {seed}."
            )
        return cls(request, seed, index, runtime)


def _add_text(info: PngImagePlugin.PngInfo, key: str, value: str) -> None:
    if value.isascii():
        info.add_text(key, value)
    else:
        info.add_itxt(key, value)


def encode_png(image: Image.Image, record: ImageRecord, compress_level: int = 4) -> bytes:
    """The PNG bytes of ``image`` with both metadata chunks."""
    info = PngImagePlugin.PngInfo()
    model_name = record.runtime.get("model_name") if record.runtime else None
    _add_text(info, PARAMETERS_KEY, format_infotext(record.request, record.seed, model_name))
    _add_text(info, METADATA_KEY, json.dumps(record.to_payload(), ensure_ascii=False))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=compress_level)
    return buffer.getvalue()


def read_record(path: str | Path) -> ImageRecord | None:
    """Our record from a PNG, or None when the file has none (or it is unreadable)."""
    try:
        with Image.open(path) as image:
            text = image.text.get(METADATA_KEY) if hasattr(image, "text") else None
    except (OSError, ValueError, SyntaxError):
        return None
    if not text:
        return None
    try:
        return ImageRecord.from_payload(json.loads(text))
    except (ValueError, InvalidRequestError, TypeError):
        return None


def job_records(job_id: str, result: Any) -> list[tuple[int, Any, ImageRecord]]:
    """(batch index, image, record) for each image of an engine result made by a queued job.

    The job's id goes into each image's runtime record, so the gallery can tell afterwards which
    images of a job were saved (see ``GalleryStore.saved_by_job``).
    """
    runtime = result.runtime.to_dict() if hasattr(result, "runtime") else {}
    indices = getattr(result, "batch_indices", None) or range(len(result.images))
    return [
        (index, image, ImageRecord(result.request, seed, index, {**runtime, "job_id": job_id}))
        for index, image, seed in zip(indices, result.images, result.seeds, strict=True)
    ]
