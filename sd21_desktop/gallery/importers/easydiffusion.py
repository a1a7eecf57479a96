"""Easy Diffusion: one PNG text chunk per setting, or the same keys as JSON in EXIF UserComment.

Keys are snake_case (``num_inference_steps``, ``use_stable_diffusion_model``) or, when the user
also saves ``txt`` metadata, their display names (``Steps``, ``Stable Diffusion model``).
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
    load_json,
    load_json_object,
    stringify,
)

# field → (snake_case key, display key)
_KEYS: dict[str, tuple[str, str]] = {
    "prompt": ("prompt", "Prompt"),
    "negative_prompt": ("negative_prompt", "Negative Prompt"),
    "seed": ("seed", "Seed"),
    "steps": ("num_inference_steps", "Steps"),
    "cfg_scale": ("guidance_scale", "Guidance Scale"),
    "sampler": ("sampler_name", "Sampler"),
    "width": ("width", "Width"),
    "height": ("height", "Height"),
    "model": ("use_stable_diffusion_model", "Stable Diffusion model"),
}
# Keys only Easy Diffusion writes: one of them must be present.
_MARKERS = {
    "use_stable_diffusion_model",
    "Stable Diffusion model",
    "num_inference_steps",
    "Guidance Scale",
}
_KNOWN = {key for pair in _KEYS.values() for key in pair}


def _from_mapping(data: dict[str, Any]) -> ImportedMetadata | None:
    if not (_MARKERS & set(data)) or not isinstance(first(data, "prompt", "Prompt"), str):
        return None
    if isinstance(load_json(data.get("prompt")), dict):  # a ComfyUI graph, not a prompt
        return None

    def get(field: str) -> Any:
        return first(data, *_KEYS[field])

    extra = {k: stringify(v) for k, v in data.items() if k not in _KNOWN}
    return ImportedMetadata(
        source="easydiffusion",
        prompt=as_text(get("prompt")),
        negative_prompt=as_text(get("negative_prompt")),
        seed=as_seed(get("seed")),
        steps=as_int(get("steps")),
        cfg_scale=as_float(get("cfg_scale")),
        sampler=as_text(get("sampler")),
        width=as_side(get("width")),
        height=as_side(get("height")),
        model=as_text(get("model")),
        extra=extra,
    )


def parse(sources: Sources) -> ImportedMetadata | str | None:
    found = _from_mapping(dict(sources.texts))
    if found is not None:
        return found
    document = load_json_object(sources.exif.get("UserComment"))
    return _from_mapping(document) if document is not None else None
