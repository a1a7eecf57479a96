"""ControlNet units in AUTOMATIC1111's infotext: ``ControlNet 0: "Module: canny, Model: …, …"``.

sd-webui-controlnet writes one ``ControlNet N`` field per unit whose value is itself a
``Key: value, …`` list (quoted as a whole). We write its keys for what we have — ``Module``,
``Model``, ``Weight``, ``Guidance Start``, ``Guidance End``, ``Control Mode`` (guess mode is its
"ControlNet is more important") — plus ``Image hash``, the control image's id in our inputs
folder, so an image whose JSON was lost still re-runs exactly here. AUTOMATIC1111 keeps no control
image, so its units import as settings only (:func:`units_from_infotext` gives ``image`` None).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sd21_desktop.engine.control_units import MAX_CONTROL_UNITS, MAX_CONTROL_WEIGHT, ControlUnit
from sd21_desktop.engine.request import GenerationRequest

GUESS_MODE = "ControlNet is more important"
BALANCED = "Balanced"
_KEY = re.compile(r"^ControlNet (\d+)$")
_HASH = re.compile(r"[0-9a-f]{64}")


def _number(value: float) -> str:
    return f"{value:g}"


def control_pairs(request: GenerationRequest) -> dict[str, str]:
    """The ``ControlNet N`` fields of a request (none without units)."""
    pairs = {}
    for index, unit in enumerate(request.controls):
        inner = {
            "Module": unit.preprocessor,
            "Model": model_name(unit.model),
            "Weight": _number(unit.weight),
            "Guidance Start": _number(unit.start),
            "Guidance End": _number(unit.end),
            "Control Mode": GUESS_MODE if unit.guess_mode else BALANCED,
            "Image hash": unit.image,
        }
        pairs[f"ControlNet {index}"] = ", ".join(f"{k}: {v}" for k, v in inner.items())
    return pairs


def model_name(model: str) -> str:
    """A hub id as it is; a local folder or file by its name (no private paths in the text)."""
    if model.count("/") == 1 and not model.startswith(("/", ".", "~")):
        return model
    return model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _preprocessor(module: str) -> str:
    """Ours for an sd-webui-controlnet module name (depth_midas → depth, invert … → invert)."""
    name = module.strip().lower()
    for ours in ("canny", "depth", "invert", "lineart", "openpose"):
        if name.startswith(ours):
            return ours
    return "hed" if name in ("hed", "softedge_hed") else "none"


def _clamped(text: str | None, default: float, high: float = 1.0) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return min(max(value, 0.0), high) if value == value else default


def units_from_infotext(extra: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each ``ControlNet N`` field as unit settings (``image``: the id, or None), in order."""
    from sd21_desktop.gallery.importers.a1111 import parse_settings_line

    found = []
    for key, value in extra.items():
        match = _KEY.match(key)
        if match is None:
            continue
        inner = parse_settings_line(value)
        image = inner.get("Image hash", "").strip().lower()
        start = _clamped(inner.get("Guidance Start"), 0.0)
        end = _clamped(inner.get("Guidance End"), 1.0)
        weight = _clamped(inner.get("Weight"), 1.0, MAX_CONTROL_WEIGHT)
        found.append(
            (
                int(match.group(1)),
                {
                    "model": inner.get("Model", "").strip(),
                    "image": image if _HASH.fullmatch(image) else None,
                    "weight": weight,
                    "start": start if start < end else 0.0,
                    "end": end if start < end else 1.0,
                    "guess_mode": inner.get("Control Mode", "").strip() == GUESS_MODE,
                    "preprocessor": _preprocessor(inner.get("Module", "none")),
                },
            )
        )
    return [settings for _index, settings in sorted(found, key=lambda pair: pair[0])]


def control_units_for_request(extra: Mapping[str, str]) -> tuple[ControlUnit, ...]:
    """The infotext's units that can run here (a model and our image id), at most three."""
    units = [
        ControlUnit(**settings)
        for settings in units_from_infotext(extra)
        if settings["image"] is not None and settings["model"]
    ]
    return tuple(units[:MAX_CONTROL_UNITS])
