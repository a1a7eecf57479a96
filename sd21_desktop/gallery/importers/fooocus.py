"""Fooocus and RuinedFooocus: a JSON object in the PNG ``parameters`` chunk.

Fooocus (its "fooocus" scheme) writes snake_case keys, a ``resolution`` of ``"(768, 1280)"`` and
seeds as strings; it marks the file with a ``fooocus_scheme`` chunk. RuinedFooocus writes
``Prompt`` / ``Negative`` / ``base_model_name`` and ``"software": "RuinedFooocus"``. Fooocus'
other scheme is A1111 infotext, read by the A1111 importer.
"""

from __future__ import annotations

from typing import Any

from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import (
    as_float,
    as_int,
    as_seed,
    as_side,
    as_text,
    first,
    load_json_object,
    parse_size,
    stringify,
)

_FIELDS = {
    "prompt",
    "Prompt",
    "negative_prompt",
    "Negative",
    "seed",
    "steps",
    "guidance_scale",
    "cfg",
    "sampler",
    "sampler_name",
    "base_model",
    "base_model_name",
    "resolution",
    "width",
    "height",
}


def _is_fooocus(data: dict[str, Any], sources: Sources) -> bool:
    if "fooocus_scheme" in sources.texts or data.get("metadata_scheme") == "fooocus":
        return True
    software = str(data.get("software", "")) + " " + str(data.get("version", ""))
    return "fooocus" in software.lower()


def parse(sources: Sources) -> ImportedMetadata | str | None:
    data = load_json_object(sources.texts.get("parameters"))
    if data is None or not _is_fooocus(data, sources):
        return None
    size = parse_size(data.get("resolution"))
    width = size[0] if size else as_side(data.get("width"))
    height = size[1] if size else as_side(data.get("height"))
    extra = {k: stringify(v) for k, v in data.items() if k not in _FIELDS and v is not None}
    return ImportedMetadata(
        source="fooocus",
        prompt=as_text(first(data, "prompt", "Prompt")),
        negative_prompt=as_text(first(data, "negative_prompt", "Negative")),
        seed=as_seed(data.get("seed")),
        steps=as_int(data.get("steps")),
        cfg_scale=as_float(first(data, "guidance_scale", "cfg")),
        sampler=as_text(first(data, "sampler", "sampler_name")),
        width=width,
        height=height,
        model=as_text(first(data, "base_model", "base_model_name")),
        extra=extra,
        schedule=as_text(data.get("scheduler")),
    )
