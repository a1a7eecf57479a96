"""SwarmUI: ``{"sui_image_params": {…}, "sui_extra_data": {…}}`` JSON, in the PNG ``parameters``
chunk or in EXIF UserComment (UTF-16LE there). Its ComfyUI ``prompt`` graph is ignored: the
params are what the user asked for."""

from __future__ import annotations

from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import (
    as_float,
    as_int,
    as_seed,
    as_side,
    as_text,
    load_json_object,
    stringify,
)

_FIELDS = {
    "prompt",
    "negativeprompt",
    "seed",
    "steps",
    "cfgscale",
    "sampler",
    "scheduler",
    "width",
    "height",
    "model",
}


def parse(sources: Sources) -> ImportedMetadata | str | None:
    for candidate in (sources.texts.get("parameters"), sources.exif.get("UserComment")):
        document = load_json_object(candidate)
        if document is None or "sui_image_params" not in document:
            continue
        params = document["sui_image_params"]
        if not isinstance(params, dict):
            return "SwarmUI metadata was found, but its parameters are malformed."
        extra = {k: stringify(v) for k, v in params.items() if k not in _FIELDS}
        extra_data = document.get("sui_extra_data")
        if isinstance(extra_data, dict):
            extra.update({k: stringify(v) for k, v in extra_data.items()})
        return ImportedMetadata(
            source="swarmui",
            prompt=as_text(params.get("prompt")),
            negative_prompt=as_text(params.get("negativeprompt")),
            seed=as_seed(params.get("seed")),
            steps=as_int(params.get("steps")),
            cfg_scale=as_float(params.get("cfgscale")),
            sampler=as_text(params.get("sampler")),
            width=as_side(params.get("width")),
            height=as_side(params.get("height")),
            model=as_text(params.get("model")),
            extra=extra,
            schedule=as_text(params.get("scheduler")),
        )
    return None
