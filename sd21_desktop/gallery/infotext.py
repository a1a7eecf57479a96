"""The AUTOMATIC1111 ``parameters`` text ("infotext") that most SD tools read and write.

Format: the prompt, then ``Negative prompt: …`` on its own line, then one line of
``Key: value`` pairs separated by ``, `` (values with commas or quotes are JSON-quoted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.schedulers import scheduler_spec
from sd21_desktop.gallery.control_infotext import control_pairs


def quote_value(value: str) -> str:
    """Quote a value the way AUTOMATIC1111 does when it would break the ``k: v, k: v`` line."""
    if "," not in value and "\n" not in value and ":" not in value and '"' not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


_HASH_ENTRY = re.compile(r"^\s*(.+?)\s*:\s*([0-9a-fA-F]{12,64})\s*$")
SHORT_HASH = 12


def format_hash_list(pairs: Sequence[tuple[str, str]]) -> str:
    """``"name: 0123456789ab, other: …"`` as AUTOMATIC1111 writes ``Lora hashes``/``TI hashes``:
    the first 12 hex digits of each file's sha256, ``:`` and ``,`` taken out of the names."""
    return ", ".join(
        f"{name.replace(':', '').replace(',', '')}: {sha[:SHORT_HASH]}" for name, sha in pairs
    )


def parse_hash_list(text: str | None) -> tuple[tuple[str, str], ...]:
    """The (name, hash) pairs of a ``Lora hashes``/``TI hashes`` value; malformed entries are
    skipped."""
    pairs: list[tuple[str, str]] = []
    for entry in (text or "").split(","):
        match = _HASH_ENTRY.match(entry)
        if match is not None:
            pairs.append((match.group(1), match.group(2).lower()))
    return tuple(pairs)


def format_infotext(
    request: GenerationRequest,
    seed: int,
    model_name: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The ``parameters`` text for one image of ``request`` made with ``seed``."""
    pairs: dict[str, str] = {
        "Steps": str(request.steps),
        "Sampler": scheduler_spec(request.scheduler).label,
        "CFG scale": f"{request.guidance_scale:g}",
        "Seed": str(seed),
        "Size": f"{request.width}x{request.height}",
        "Model": model_name or request.model.rsplit("/", 1)[-1],
    }
    if request.batch_size > 1:
        pairs["Batch size"] = str(request.batch_size)
    if request.mode != "txt2img":
        # AUTOMATIC1111's names, so its readers recognise an img2img or inpaint image.
        pairs["Denoising strength"] = f"{request.strength:g}"
    if request.mode == "inpaint":
        pairs["Mask blur"] = f"{request.mask_feather:g}"
        pairs["Masked content"] = request.masked_content.replace("-", " ")
        if request.inpaint_area == "masked":
            pairs["Inpaint area"] = "Only masked"
            pairs["Masked area padding"] = str(request.mask_padding)
        pairs["Mode"] = "inpaint"
    elif request.mode != "txt2img":
        pairs["Mode"] = request.mode
    if request.loras:
        pairs["Lora hashes"] = format_hash_list(request.loras)
    if request.embeddings:
        pairs["TI hashes"] = format_hash_list(request.embeddings)
    pairs.update(exploration_pairs(request))
    pairs.update(control_pairs(request))
    if extra:
        pairs.update(extra)
    from sd21_desktop import __version__

    pairs["Version"] = f"sd21-desktop {__version__}"
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    lines.append(", ".join(f"{key}: {quote_value(value)}" for key, value in pairs.items()))
    return "\n".join(lines)


HIRES_UPSCALER_NAMES = {"lanczos": "Lanczos", "latent": "Latent", "x4": "SD2 x4"}
"""Our hires upscalers under AUTOMATIC1111's names for them (it has no SD2 x4 upscaler: that
name is ours, and our importer reads it back)."""


def exploration_pairs(request: GenerationRequest) -> dict[str, str]:
    """The hires fix and variation seed in AUTOMATIC1111's words (its ``processing.py``)."""
    pairs: dict[str, str] = {}
    if request.variation_strength:
        pairs["Variation seed"] = str(request.variation_seed)
        pairs["Variation seed strength"] = f"{request.variation_strength:g}"
    if request.hires_upscaler is None:
        return pairs
    pairs["Denoising strength"] = f"{request.hires_denoise:g}"
    if request.hires_width and request.hires_height:
        pairs["Hires resize"] = f"{request.hires_width}x{request.hires_height}"
    else:
        pairs["Hires upscale"] = f"{request.hires_scale:g}"
    if request.hires_steps:
        pairs["Hires steps"] = str(request.hires_steps)
    pairs["Hires upscaler"] = HIRES_UPSCALER_NAMES[request.hires_upscaler]
    return pairs
