"""Stability Matrix: ``parameters-json`` (its own JSON), ``smproj`` (the project), an A1111-style
``parameters`` text and the ComfyUI ``prompt`` graph it ran.

``parameters-json`` keeps the prompts exactly (CRLF line ends included). Its ``Sampler`` is a
display name ("Euler Ancestral Karras"), so the sampler and schedule come from the project or the
graph, which name them the ComfyUI way.
"""

from __future__ import annotations

from typing import Any

from sd21_desktop.gallery.importers import a1111, comfyui
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

_EXTRA = ("ModelHash", "ModelVersionId", "FrameCount", "Fps")


def _project_sampler(project: dict[str, Any] | None) -> tuple[str | None, str | None]:
    state = project.get("State") if project else None
    sampler_card = state.get("Sampler") if isinstance(state, dict) else None
    if not isinstance(sampler_card, dict):
        return None, None

    def name(key: str) -> str | None:
        value = sampler_card.get(key)
        return as_text(value.get("Name")) if isinstance(value, dict) else None

    return name("SelectedSampler"), name("SelectedScheduler")


def parse(sources: Sources) -> ImportedMetadata | str | None:
    texts = sources.texts
    if "parameters-json" not in texts and "smproj" not in texts:
        return None
    data = load_json_object(texts.get("parameters-json"))
    if data is None:
        if "parameters" in texts:  # the A1111 copy still has everything but exact prompts
            return a1111.from_infotext(texts["parameters"], source="stability-matrix")
        return "Stability Matrix metadata was found, but it is not valid JSON."
    sampler, schedule = _project_sampler(load_json_object(texts.get("smproj")))
    graph = comfyui.as_api_graph(load_json_object(texts.get("prompt")))
    ran = comfyui.from_graph(graph) if graph else None
    if ran is not None:
        sampler, schedule = sampler or ran.sampler, schedule or ran.schedule
    extra = {key: stringify(data[key]) for key in _EXTRA if data.get(key) is not None}
    return ImportedMetadata(
        source="stability-matrix",
        prompt=as_text(data.get("PositivePrompt")),
        negative_prompt=as_text(data.get("NegativePrompt")),
        seed=as_seed(data.get("Seed")),
        steps=as_int(data.get("Steps")),
        cfg_scale=as_float(data.get("CfgScale")),
        sampler=sampler or as_text(data.get("Sampler")),
        width=as_side(data.get("Width")),
        height=as_side(data.get("Height")),
        model=as_text(data.get("ModelName")),
        extra=extra,
        schedule=schedule,
    )
