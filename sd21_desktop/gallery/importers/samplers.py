"""Other tools' sampler names mapped to our scheduler names.

AUTOMATIC1111 labels (``"DPM++ 2M Karras"``) go through the engine's own
:func:`~sd21_desktop.engine.schedulers.scheduler_from_label`. ComfyUI (``euler_ancestral``),
NovelAI (``k_euler_ancestral``), InvokeAI (``dpmpp_2m_k``) and Stability Matrix
(``"Euler Ancestral Karras"``) spell the same samplers differently, so they are normalised first.
A sampler we do not have (``dpmpp_2m_sde_gpu``, ``LCM``…) falls back to the default scheduler:
the image will differ, but the prompt and settings still carry over.
"""

from __future__ import annotations

import re

from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER, scheduler_from_label

# Normalised spelling → our scheduler name (Karras handled separately below).
_ALIASES: dict[str, str] = {
    "euler": "euler",
    "euler_a": "euler_a",
    "euler_ancestral": "euler_a",
    "eulera": "euler_a",
    "dpmpp_2m": "dpmpp_2m",
    "dpm_2m": "dpmpp_2m",
    "dpmsolver_multistep": "dpmpp_2m",
    "dpmpp_2m_k": "dpmpp_2m_karras",
    "dpmpp_2m_karras": "dpmpp_2m_karras",
    "ddim": "ddim",
    "pndm": "pndm",
    "plms": "pndm",
    "lms": "lms",
    "heun": "heun",
    "unipc": "unipc",
    "uni_pc": "unipc",
    "uni_pc_bh2": "unipc",
}
_KARRAS_VARIANTS = {"dpmpp_2m": "dpmpp_2m_karras"}
_PREFIXES = ("sample_", "k_")


def _normalise(label: str) -> tuple[str, bool]:
    """``"Euler Ancestral Karras"`` → (``"euler_ancestral"``, True)."""
    text = label.strip().lower().replace("++", "pp")
    text = re.sub(r"[\s\-]+", "_", text)
    karras = False
    for suffix in ("_karras", "_k"):
        if text.endswith(suffix) and text[: -len(suffix)] in _ALIASES:
            text, karras = text[: -len(suffix)], True
            break
    for prefix in _PREFIXES:
        if text.startswith(prefix) and text[len(prefix) :] in _ALIASES:
            text = text[len(prefix) :]
            break
    return text, karras


def scheduler_for(sampler: str | None, schedule: str | None = None) -> str:
    """Our scheduler name for another tool's sampler (+ its noise schedule, e.g. ``"Karras"``)."""
    if not sampler or not sampler.strip():
        return DEFAULT_SCHEDULER
    karras = bool(schedule) and "karras" in (schedule or "").lower()
    spec = scheduler_from_label(sampler)
    if spec is not None:
        name = spec.name
    else:
        normalised, suffix_karras = _normalise(sampler)
        found = _ALIASES.get(normalised)
        if found is None:
            return DEFAULT_SCHEDULER
        name, karras = found, karras or suffix_karras
    # Only DPM++ 2M has a Karras variant here; other samplers keep their own default sigmas.
    return _KARRAS_VARIANTS.get(name, name) if karras else name
