"""TensorArt: ``generation_data`` JSON (what the user set) next to the ComfyUI ``prompt`` graph
(what ran). The JSON stores a random seed as ``"-1"``; the graph has the seed actually used, so
values missing from the JSON are taken from the graph.
"""

from __future__ import annotations

from typing import Any

from sd21_desktop.gallery.importers import comfyui
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

_EXTRA = ("clipSkip", "sdVae", "etaNoiseSeedDelta", "guidance")


def _model(data: dict[str, Any]) -> str | None:
    base = data.get("baseModel")
    if isinstance(base, dict):
        return as_text(base.get("modelFileName")) or as_text(base.get("label"))
    return None


def parse(sources: Sources) -> ImportedMetadata | str | None:
    if "generation_data" not in sources.texts:
        return None
    data = load_json_object(sources.texts["generation_data"])
    if data is None:
        return "TensorArt metadata was found, but it is not valid JSON."
    graph = comfyui.as_api_graph(load_json_object(sources.texts.get("prompt")))
    ran = (comfyui.from_graph(graph) if graph else None) or ImportedMetadata(source="tensorart")
    extra = {key: stringify(data[key]) for key in _EXTRA if data.get(key) is not None}

    def pick(mine: Any, theirs: Any) -> Any:
        return theirs if mine is None else mine

    return ImportedMetadata(
        source="tensorart",
        prompt=pick(as_text(data.get("prompt")), ran.prompt),
        negative_prompt=pick(as_text(data.get("negativePrompt")), ran.negative_prompt),
        seed=pick(as_seed(data.get("seed")), ran.seed),
        steps=pick(as_int(data.get("steps")), ran.steps),
        cfg_scale=pick(as_float(data.get("cfgScale")), ran.cfg_scale),
        sampler=pick(as_text(data.get("ksamplerName")), ran.sampler),
        width=pick(as_side(data.get("width")), ran.width),
        height=pick(as_side(data.get("height")), ran.height),
        model=pick(_model(data), ran.model),
        extra=extra,
        schedule=pick(as_text(data.get("schedule")), ran.schedule),
    )
