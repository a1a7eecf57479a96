"""NovelAI: the prompt in ``Description``, the settings as JSON in ``Comment``.

PNGs carry them as text chunks. WebP/JPEG put a JSON envelope
``{"Comment": "<JSON as a string>", "Description": …, "Software": …}`` into EXIF UserComment
(the settings are JSON inside JSON), and stealth pixel data holds the same envelope.
V4 models keep the prompts in ``v4_prompt`` / ``v4_negative_prompt`` captions as well.
"""

from __future__ import annotations

import re
from typing import Any

from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import (
    as_float,
    as_int,
    as_seed,
    as_side,
    as_text,
    clean_text,
    load_json_object,
    stringify,
)

# "Stable Diffusion 1D44365E", "NovelAI Diffusion V4.5 4BDE2A90": model name + hash.
_SOURCE = re.compile(r"^(.*?)\s+([0-9A-Fa-f]{8})$")
_EXTRA = ("strength", "noise", "n_samples", "cfg_rescale", "uncond_scale", "sm", "sm_dyn")


def _caption(value: Any) -> str | None:
    """``{"caption": {"base_caption": …}}`` of a V4 prompt."""
    if isinstance(value, dict) and isinstance(value.get("caption"), dict):
        return as_text(value["caption"].get("base_caption"))
    return None


def _envelope(sources: Sources) -> dict[str, Any] | None:
    """The NovelAI key/value set: PNG text chunks, or the JSON envelope of EXIF/stealth."""
    texts = sources.texts
    if "Comment" in texts and (
        texts.get("Software", "").startswith("NovelAI")
        or "NovelAI" in texts.get("Source", "")
        or "Stable Diffusion" in texts.get("Source", "")
    ):
        return dict(texts)
    for candidate in (sources.exif.get("UserComment"), sources.stealth):
        envelope = load_json_object(candidate)
        if not envelope or "Comment" not in envelope:
            continue
        comment = load_json_object(envelope.get("Comment"))
        by_novelai = str(envelope.get("Software", "")).startswith("NovelAI")
        if by_novelai or (comment is not None and "uc" in comment):
            return {**sources.exif, **envelope}
    return None


def parse(sources: Sources) -> ImportedMetadata | str | None:
    envelope = _envelope(sources)
    if envelope is None:
        return None
    comment = load_json_object(envelope.get("Comment"))
    if comment is None:
        return "NovelAI metadata was found, but its Comment is not valid JSON."
    description = as_text(envelope.get("Description"))
    prompt = as_text(comment.get("prompt")) or _caption(comment.get("v4_prompt"))
    if prompt is None and description is not None:
        prompt = clean_text(description)
    negative = as_text(comment.get("uc"))
    if negative is None:
        negative = _caption(comment.get("v4_negative_prompt"))
    model = None
    extra: dict[str, str] = {}
    source_text = as_text(envelope.get("Source"))
    if source_text:
        match = _SOURCE.match(source_text.strip())
        model = match.group(1) if match else source_text.strip()
        if match:
            extra["model_hash"] = match.group(2)
    extra.update({key: stringify(comment[key]) for key in _EXTRA if key in comment})
    return ImportedMetadata(
        source="novelai",
        prompt=prompt,
        negative_prompt=negative,
        seed=as_seed(comment.get("seed")),
        steps=as_int(comment.get("steps")),
        cfg_scale=as_float(comment.get("scale")),
        sampler=as_text(comment.get("sampler")),
        width=as_side(comment.get("width")),
        height=as_side(comment.get("height")),
        model=model,
        extra=extra,
        schedule=as_text(comment.get("noise_schedule")),
    )
