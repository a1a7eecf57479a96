"""AUTOMATIC1111's hires-fix and variation-seed settings (``Hires upscale``, ``Hires resize``,
``Hires steps``, ``Hires upscaler``, ``Denoising strength``, ``Variation seed``, ``Variation seed
strength``) as our request fields, so an imported image re-runs with them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sd21_desktop.engine.request import MAX_HIRES_SCALE, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_SIDE
from sd21_desktop.gallery.importers.values import as_float, as_int, as_seed, parse_size

_HIRES_KEYS = ("Hires upscale", "Hires resize", "Hires upscaler")


_X4_NAMES = ("sd2 x4", "sd2x4", "sd x4", "x4")
"""What we write for the SD2 x4 upscaler (``SD2 x4``) and its near spellings."""


def hires_upscaler_for(name: str | None) -> str:
    """Ours for an A1111 upscaler name: its latent modes → ``latent``; ``SD2 x4`` (ours) → ``x4``;
    every other image upscaler (Lanczos, ESRGAN, SwinIR…) → ``lanczos``."""
    text = (name or "").strip().lower()
    if text.startswith("latent"):
        return "latent"
    return "x4" if text in _X4_NAMES else "lanczos"


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def exploration_fields(extra: Mapping[str, str]) -> dict[str, Any]:
    """Request fields for the hires fix and variation seed named in ``extra`` (may be empty)."""
    values: dict[str, Any] = {}
    strength = as_float(extra.get("Variation seed strength"))
    seed = as_seed(extra.get("Variation seed"))
    if strength and seed is not None:
        values["variation_seed"] = seed % (MAX_SEED + 1)
        values["variation_strength"] = _clamp(strength, 0.0, 1.0)
    if not any(key in extra for key in _HIRES_KEYS):
        return values
    values["hires_upscaler"] = hires_upscaler_for(extra.get("Hires upscaler"))
    scale = as_float(extra.get("Hires upscale"))
    if scale is not None:
        values["hires_scale"] = _clamp(scale, 1.0, MAX_HIRES_SCALE)
    size = parse_size(extra.get("Hires resize"))
    if size and all(side > 0 for side in size):
        values["hires_width"], values["hires_height"] = (
            int(_clamp((side + 4) // 8 * 8, MIN_SIDE, MAX_SIDE)) for side in size
        )
    steps = as_int(extra.get("Hires steps"))
    if steps is not None:
        values["hires_steps"] = int(_clamp(steps, 0, MAX_STEPS))
    denoise = as_float(extra.get("Denoising strength"))
    if denoise is not None and denoise > 0:
        values["hires_denoise"] = _clamp(denoise, 0.01, 1.0)
    return values
