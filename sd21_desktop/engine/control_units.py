"""ControlNet control units as a request holds them (schema 7), and their validation.

A :class:`ControlUnit` names a ControlNet model (hub id, local diffusers folder or single file),
the control image *as the model receives it* (already preprocessed, by its sha256 id in the
inputs folder, so a re-run needs no preprocessor), its weight (diffusers'
``controlnet_conditioning_scale``), the fraction of the steps during which it applies
(``control_guidance_start``/``end``) and guess mode (AUTOMATIC1111's "ControlNet is more
important"). ``preprocessor`` only records what made the image (the infotext's ``Module``).

This module imports no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sd21_desktop.errors import InvalidRequestError

MAX_CONTROL_UNITS = 3
MAX_CONTROL_WEIGHT = 2.0
CONTROL_MODES: tuple[str, ...] = ("txt2img", "img2img", "inpaint")
"""Modes with a diffusers ControlNet pipeline (depth-to-image and the upscaler have none)."""
PREPROCESSORS: tuple[str, ...] = ("none", "canny", "depth", "invert", "hed", "lineart", "openpose")
"""The last three need controlnet-aux and their weights (:mod:`..annotators`)."""
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ControlUnit:
    """One ControlNet and its control image (see the module docstring)."""

    model: str
    image: str
    """sha256 id of the control image (RGB, exactly what the model receives) in the inputs."""
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    guess_mode: bool = False
    preprocessor: str = "none"


def control_units(value: object) -> tuple[ControlUnit, ...]:
    """The request's ``controls`` as units (JSON gives a list of objects), each validated."""
    if not isinstance(value, (list, tuple)):
        raise InvalidRequestError("controls", "controls must be a list of control units.")
    units = tuple(_unit(item) for item in value)
    if len(units) > MAX_CONTROL_UNITS:
        raise InvalidRequestError(
            "controls",
            f"At most {MAX_CONTROL_UNITS} control units per image; got {len(units)}.",
            "Remove a control unit.",
        )
    if len({unit.guess_mode for unit in units}) > 1:
        raise InvalidRequestError(
            "controls",
            "Guess mode is on for some control units and off for others; diffusers applies it "
            "to the whole generation.",
            "Turn guess mode on for every unit, or off for every unit.",
        )
    for unit in units:
        _check_unit(unit)
    return units


def _unit(item: object) -> ControlUnit:
    if isinstance(item, ControlUnit):
        return item
    if not isinstance(item, dict):
        raise InvalidRequestError("controls", f"A control unit must be an object, not {item!r}.")
    known = set(ControlUnit.__dataclass_fields__)
    unknown = sorted(set(item) - known)
    if unknown or "model" not in item or "image" not in item:
        raise InvalidRequestError(
            "controls",
            f"A control unit needs model and image (and may have {', '.join(sorted(known))}); "
            f"got {', '.join(sorted(item))}.",
        )
    return ControlUnit(**item)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidRequestError("controls", f"{what} must be a number, not {value!r}.")
    return float(value)


def _check_unit(unit: ControlUnit) -> None:
    if not isinstance(unit.model, str) or not unit.model.strip():
        raise InvalidRequestError(
            "controls", "A control unit names no ControlNet model.", "Give a hub id or a path."
        )
    if not isinstance(unit.image, str) or not _SHA256_HEX.fullmatch(unit.image):
        raise InvalidRequestError(
            "controls",
            f"The control image of {unit.model} must be the id of a stored input image (a sha256 "
            f"of 64 lower-case hex digits), not {unit.image!r}.",
        )
    weight = _number(unit.weight, "A control weight")
    if not 0.0 <= weight <= MAX_CONTROL_WEIGHT:
        raise InvalidRequestError(
            "controls",
            f"A control weight must be from 0 to {MAX_CONTROL_WEIGHT:g}; got {weight:g}.",
        )
    start, end = _number(unit.start, "A control start"), _number(unit.end, "A control end")
    if not 0.0 <= start < end <= 1.0:
        raise InvalidRequestError(
            "controls",
            f"A control unit's start and end are fractions of the steps with 0 <= start < end "
            f"<= 1; got start {start:g}, end {end:g}.",
        )
    if not isinstance(unit.guess_mode, bool):
        raise InvalidRequestError("controls", "guess_mode must be true or false.")
    if unit.preprocessor not in PREPROCESSORS:
        raise InvalidRequestError(
            "controls",
            f"Unknown preprocessor {unit.preprocessor!r}. Valid: {', '.join(PREPROCESSORS)}.",
        )


def check_control_mode(mode: str, units: tuple[ControlUnit, ...]) -> None:
    """ControlNet pipelines exist for txt2img, img2img and inpaint only."""
    if units and mode not in CONTROL_MODES:
        raise InvalidRequestError(
            "controls",
            f"ControlNet units apply to {', '.join(CONTROL_MODES)}, not {mode}.",
            "Remove the control units or change the mode.",
        )
