"""Our own images: the ``sd21-desktop`` JSON chunk written by :mod:`sd21_desktop.gallery.metadata`.

The chunk holds the complete request, so nothing is guessed: the record is returned as it is and
``to_request`` gives back the exact request that made the image.
"""

from __future__ import annotations

from sd21_desktop.engine.schedulers import scheduler_spec
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import load_json, stringify
from sd21_desktop.gallery.metadata import METADATA_KEY, ImageRecord


def parse(sources: Sources) -> ImportedMetadata | str | None:
    text = sources.texts.get(METADATA_KEY)
    if text is None:
        return None
    payload = load_json(text)
    try:
        # The same validation read_record() applies, on the chunk we already have in memory
        # (read_record would open the file again and decode its pixels to find late chunks).
        record = ImageRecord.from_payload(payload)
    except (UserFacingError, TypeError, ValueError) as error:
        return f"The image's sd21-desktop metadata could not be read: {error}"
    request = record.request
    extra = {"batch_index": str(record.batch_index), "prediction_type": request.prediction_type}
    if request.batch_size > 1:
        extra["batch_size"] = str(request.batch_size)
    extra.update({f"runtime.{key}": stringify(value) for key, value in record.runtime.items()})
    return ImportedMetadata(
        source="sd21-desktop",
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        seed=record.seed,
        steps=request.steps,
        cfg_scale=float(request.guidance_scale),
        sampler=scheduler_spec(request.scheduler).label,
        width=request.width,
        height=request.height,
        model=request.model,
        extra=extra,
        record=record,
    )
