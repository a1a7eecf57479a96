"""What an actor streams back to the client for one job: steps, then one ending event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepEvent:
    """One finished denoising step (the engine's ``StepInfo`` without the tensor)."""

    step: int
    total: int
    elapsed: float
    stage: str
    stage_step: int
    stage_total: int
    latents: Any = None
    """The first image's latents as a float32 numpy array ``(1, 4, h, w)``, when previews are
    wanted (the client turns them into the same preview as the local engine); else None."""


@dataclass(frozen=True)
class DoneEvent:
    """The job's images as PNG bytes (both metadata chunks inside) and how they were made."""

    pngs: list[bytes]
    seeds: list[int]
    batch_indices: list[int]
    request: dict[str, Any]
    runtime: dict[str, str]
    timings: dict[str, float]
    notices: list[str]
    new_inputs: dict[str, bytes] = field(default_factory=dict)
    """Inputs the worker made (the depth map it estimated), by id, so the local folder has them."""


@dataclass(frozen=True)
class CancelledEvent:
    steps_after_cancel: int
    """How many steps finished after the cancel reached the actor (0 or 1 by design)."""


@dataclass(frozen=True)
class FailedEvent:
    message: str
    hint: str = ""
    out_of_memory: bool = False
