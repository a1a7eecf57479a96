"""Hugging Face Spaces (Gradio + diffusers apps): a JSON object in the PNG ``parameters`` chunk
using diffusers' own argument names (``num_inference_steps``, ``guidance_scale``) and a
``resolution`` such as ``"1024 x 1024"``. Checked after every tool with a more specific mark."""

from __future__ import annotations

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
    "negative_prompt",
    "seed",
    "num_inference_steps",
    "steps",
    "guidance_scale",
    "sampler",
    "scheduler",
    "resolution",
    "width",
    "height",
    "Model",
    "model",
}


def parse(sources: Sources) -> ImportedMetadata | str | None:
    data = load_json_object(sources.texts.get("parameters"))
    if data is None or not isinstance(data.get("prompt"), str):
        return None
    if not {"num_inference_steps", "guidance_scale", "resolution"} & set(data):
        return None
    size = parse_size(data.get("resolution"))
    extra = {k: stringify(v) for k, v in data.items() if k not in _FIELDS and v is not None}
    return ImportedMetadata(
        source="hf-space",
        prompt=as_text(data.get("prompt")),
        negative_prompt=as_text(data.get("negative_prompt")),
        seed=as_seed(data.get("seed")),
        steps=as_int(first(data, "num_inference_steps", "steps")),
        cfg_scale=as_float(data.get("guidance_scale")),
        sampler=as_text(first(data, "sampler", "scheduler")),
        width=size[0] if size else as_side(data.get("width")),
        height=size[1] if size else as_side(data.get("height")),
        model=as_text(first(data, "Model", "model")),
        extra=extra,
    )
