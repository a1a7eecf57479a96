"""``--control MODEL:IMAGE[:WEIGHT[:START[:END]]]`` and ``--control-preprocess``: control units
for ``generate`` (and ``grid``). Every spec and image is checked before any model loads, and so
is that hed/lineart/openpose can run here (controlnet-aux and their weight files); the depth
preprocessor then runs the SD2 depth model's estimator. Importing this loads no torch.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sd21_desktop.engine.control_units import ControlUnit
from sd21_desktop.errors import UserFacingError

_USAGE = "Write --control MODEL:IMAGE[:WEIGHT[:START[:END]]], e.g. --control owner/cn:edges.png:0.8"


@dataclass(frozen=True)
class ControlSpec:
    model: str
    image_path: str
    numbers: tuple[float, ...]
    """weight, start, end as given (0 to 3 of them)."""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_control(spec: str) -> ControlSpec:
    """Split a ``--control`` value: the numbers from the right, then the image (which may start
    with a Windows drive letter) and the model."""
    parts = spec.split(":")
    numbers: list[float] = []
    while len(parts) > 2 and len(numbers) < 3 and _is_number(parts[-1]):
        numbers.insert(0, float(parts.pop()))
    if len(parts) > 2 and len(parts[-2]) == 1 and parts[-2].isalpha():  # C:\picture.png
        parts[-2:] = [f"{parts[-2]}:{parts[-1]}"]
    if len(parts) > 2:
        raise UserFacingError(
            f"--control {spec!r}: {parts[2]!r} is not a number (weight, start and end are).",
            _USAGE,
        )
    if len(parts) < 2 or not parts[-1].strip() or not parts[0].strip():
        raise UserFacingError(f"--control {spec!r} names no model and image.", _USAGE)
    if _is_number(parts[-1]):
        raise UserFacingError(f"--control {spec!r}: the image {parts[-1]!r} is a number.", _USAGE)
    return ControlSpec(parts[0], parts[1], tuple(numbers))


def preprocessors_for(args: argparse.Namespace, count: int) -> list[str]:
    names: list[str] = list(args.control_preprocess)
    if names and not count:
        raise UserFacingError("--control-preprocess needs --control MODEL:IMAGE.", _USAGE)
    if len(names) == 1:
        return names * count
    if names and len(names) != count:
        raise UserFacingError(
            f"{len(names)} --control-preprocess values for {count} --control units.",
            "Give one for all units, or one per unit in the same order.",
        )
    return names or ["none"] * count


@dataclass(frozen=True)
class ControlPlan:
    """The parsed units with their raw images, before preprocessing."""

    specs: tuple[ControlSpec, ...]
    images: tuple[Any, ...]
    preprocessors: tuple[str, ...]
    guess_mode: bool
    annotators: Path | None = None
    """Where the hed/lineart/openpose weights are (checked to be there)."""

    def units(self, hashes: list[str]) -> tuple[ControlUnit, ...]:
        """The request's units with these control image ids (validated by the request)."""
        names = ("weight", "start", "end")
        return tuple(
            ControlUnit(
                spec.model,
                digest,
                **dict(zip(names, spec.numbers, strict=False)),
                guess_mode=self.guess_mode,
                preprocessor=name,
            )
            for spec, digest, name in zip(self.specs, hashes, self.preprocessors, strict=True)
        )


def read_controls(args: argparse.Namespace, annotators: Path | None = None) -> ControlPlan:
    """Parse every ``--control`` and read its image (a missing or bad file says so); a
    preprocessor that cannot run here (``annotators``: its weights' folder) says why."""
    from sd21_desktop.engine.annotators import ANNOTATORS, unavailable
    from sd21_desktop.engine.inputs import read_image_file

    specs = tuple(parse_control(spec) for spec in args.control)
    names = tuple(preprocessors_for(args, len(specs)))
    for name in sorted(set(names) & set(ANNOTATORS)):
        reason = unavailable(name, annotators)
        if reason is not None:
            raise UserFacingError(reason)
    images = tuple(read_image_file(spec.image_path) for spec in specs)
    return ControlPlan(specs, images, names, bool(args.control_guess_mode), annotators)


def preprocess_controls(
    plan: ControlPlan, estimate_depth: Callable[[Any], Any], put: Callable[[Any], str]
) -> list[str]:
    """Each unit's control image made by its preprocessor and stored; their ids."""
    from sd21_desktop.engine.control_preprocess import preprocess
    from sd21_desktop.engine.controlnet import to_control_image

    return [
        put(
            preprocess(
                name,
                to_control_image(image),
                estimate_depth=estimate_depth,
                annotators=plan.annotators,
            )
        )
        for image, name in zip(plan.images, plan.preprocessors, strict=True)
    ]
