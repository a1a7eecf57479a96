"""Stable scheduler names mapped to diffusers scheduler classes.

Each scheduler is built with ``SchedulerClass.from_config(<the model's scheduler config>)`` and no
other change (the Karras variant adds only ``use_karras_sigmas=True``), so our images equal what
diffusers itself gives. Switching scheduler never reloads the model.

This module names classes by string so that importing it loads no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SchedulerSpec:
    name: str
    class_name: str
    label: str
    extra_config: tuple[tuple[str, Any], ...] = ()


SCHEDULERS: tuple[SchedulerSpec, ...] = (
    SchedulerSpec("dpmpp_2m", "DPMSolverMultistepScheduler", "DPM++ 2M"),
    SchedulerSpec(
        "dpmpp_2m_karras",
        "DPMSolverMultistepScheduler",
        "DPM++ 2M Karras",
        (("use_karras_sigmas", True),),
    ),
    SchedulerSpec("euler", "EulerDiscreteScheduler", "Euler"),
    SchedulerSpec("euler_a", "EulerAncestralDiscreteScheduler", "Euler a"),
    SchedulerSpec("ddim", "DDIMScheduler", "DDIM"),
    SchedulerSpec("pndm", "PNDMScheduler", "PNDM"),
    SchedulerSpec("lms", "LMSDiscreteScheduler", "LMS"),
    SchedulerSpec("heun", "HeunDiscreteScheduler", "Heun"),
    SchedulerSpec("unipc", "UniPCMultistepScheduler", "UniPC"),
)
SCHEDULER_NAMES: tuple[str, ...] = tuple(spec.name for spec in SCHEDULERS)
DEFAULT_SCHEDULER = "dpmpp_2m"
_BY_NAME = {spec.name: spec for spec in SCHEDULERS}


def scheduler_spec(name: str) -> SchedulerSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        from sd21_desktop.errors import InvalidRequestError

        raise InvalidRequestError(
            "scheduler",
            f"Unknown scheduler {name!r}. Valid schedulers: {', '.join(SCHEDULER_NAMES)}.",
        ) from None


def scheduler_from_label(label: str) -> SchedulerSpec | None:
    """Map an AUTOMATIC1111 sampler label (``"DPM++ 2M Karras"``) back to our scheduler."""
    wanted = label.strip().lower()
    for spec in SCHEDULERS:
        if spec.label.lower() == wanted or spec.name == wanted:
            return spec
    return None


def build_scheduler(name: str, base_config: Any) -> Any:
    """A fresh scheduler of the named kind from the model's own scheduler config."""
    import diffusers

    spec = scheduler_spec(name)
    scheduler_class = getattr(diffusers, spec.class_name)
    return scheduler_class.from_config(base_config, **dict(spec.extra_config))
