"""What the runner lends every stage: the model, schedulers, generators, progress, checks.

These are the concerns a stage must never repeat (ARCHITECTURE: "the runner owns them once"):

* the model, loaded through the engine's cache the first time a stage asks for it (so stages
  that need no model run, and fail, before the slow load);
* a fresh scheduler on every pipeline handed out (a scheduler keeps state between steps);
* CPU generators seeded with the request's seeds (so a seed gives the same image everywhere);
* the step callback: one overall step count across all stages of the plan, the current stage's
  label (``denoise 1/2``, ``upscale tile 3/25``), and cancel within one step;
* the NaN check on decoded pixels; timings of the pipeline calls; status text.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from sd21_desktop.engine.acceleration.state import EAGER
from sd21_desktop.engine.loader import LoadedPipeline, StatusCallback
from sd21_desktop.engine.networks import NetworkFolders
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import GenerationCancelled, GenerationFailedError


@dataclass(frozen=True)
class StepInfo:
    """One finished step; ``latents`` is the pipeline's tensor (do not modify).

    ``step`` and ``total`` count across the whole plan (the GUI's bar and ETA), ``elapsed`` is
    the time since the plan's first step began; ``stage`` names the running stage and
    ``stage_step``/``stage_total`` count within it.
    """

    step: int
    total: int
    elapsed: float
    latents: Any
    stage: str = ""
    stage_step: int = 0
    stage_total: int = 0


StepCallback = Callable[[StepInfo], None]
CancelCheck = Callable[[], bool]


@dataclass
class PlanProgress:
    """The overall step count of a plan, reported through ``on_step``; cancel checked per step."""

    on_step: StepCallback | None = None
    should_cancel: CancelCheck | None = None
    total: int = 0
    done: int = 0
    label: str = ""
    stage_done: int = 0
    stage_total: int = 0
    started: float | None = None
    step_ends: list[float] = field(default_factory=list)

    def begin(self, label: str, planned: int) -> None:
        """A stage starts; it plans to report ``planned`` steps."""
        self.label, self.stage_done, self.stage_total = label, 0, planned

    def relabel(self, label: str) -> None:
        """The same stage under a finer label (e.g. the tile being upscaled)."""
        self.label = label

    def step(self, latents: Any, stage_total: int | None = None) -> None:
        """One step done. ``stage_total`` corrects the stage's planned count when the pipeline
        knows better (its real number of timesteps), keeping the overall total true."""
        now = time.perf_counter()
        if self.started is None:  # pragma: no cover - the runner starts the clock first
            self.started = now
        if stage_total is not None and stage_total != self.stage_total:
            self.total += stage_total - self.stage_total
            self.stage_total = stage_total
        self.done += 1
        self.stage_done += 1
        self.step_ends.append(now)
        if self.on_step is not None:
            self.on_step(
                StepInfo(
                    min(self.done, self.total),
                    self.total,
                    now - self.started,
                    latents,
                    self.label,
                    min(self.stage_done, self.stage_total),
                    self.stage_total,
                )
            )
        if self.should_cancel is not None and self.should_cancel():
            # Raising skips the remaining steps *and* the VAE decode of a discarded result.
            raise GenerationCancelled()


@dataclass
class CallTimes:
    """Where the time of the pipeline calls went (denoising vs. the VAE decode after it)."""

    denoise_s: float = 0.0
    decode_s: float = 0.0
    step_times: list[float] = field(default_factory=list)

    def record(self, started: float, step_ends: list[float], finished: float) -> None:
        last = step_ends[-1] if step_ends else started
        self.denoise_s += last - started
        self.decode_s += finished - last
        self.step_times += [b - a for a, b in zip([started, *step_ends], step_ends, strict=False)]

    def median_step_s(self) -> float:
        return statistics.median(self.step_times) if self.step_times else 0.0


class StageContext:
    """The runner's services for the stages of one plan run (see the module docstring)."""

    def __init__(
        self,
        request: GenerationRequest,
        load: Callable[[], LoadedPipeline],
        progress: PlanProgress,
        on_status: StatusCallback | None = None,
        networks: NetworkFolders | None = None,
        companion: Callable[[str], LoadedPipeline] | None = None,
    ) -> None:
        self.request = request
        self._companion = companion
        self.networks = networks
        """The embeddings and LoRA folders the prompt's names are found in."""
        self._load = load
        self._loaded: LoadedPipeline | None = None
        self.progress = progress
        self.on_status = on_status
        self.times = CallTimes()
        self.load_s = 0.0

    @property
    def is_loaded(self) -> bool:
        return self._loaded is not None

    @property
    def loaded(self) -> LoadedPipeline:
        """The request's model, loaded (through the cache) on first use."""
        if self._loaded is None:
            started = time.perf_counter()
            self._loaded = self._load()
            self.load_s = time.perf_counter() - started
        return self._loaded

    def for_companion(self, request: GenerationRequest) -> StageContext:
        """A context for stages run on ``request.model`` held beside this one's model (the
        hires fix's x4 upscaler), sharing this run's progress and timings."""
        if self._companion is None:
            raise RuntimeError("this runner lends no second model")
        load = self._companion
        other = StageContext(request, lambda: load(request.model), self.progress, self.on_status)
        other.networks, other.times = self.networks, self.times
        return other

    def pipeline(self, mode: str) -> Any:
        """The diffusers pipeline of ``mode`` over the loaded model, with a fresh scheduler."""
        pipeline = self.loaded.pipeline_for(mode)
        pipeline.scheduler = self.scheduler()
        return pipeline

    def scheduler(self) -> Any:
        """A fresh scheduler of the request's kind for the loaded model."""
        from sd21_desktop.engine.schedulers import build_scheduler

        config = self.loaded.scheduler_config_for(self.request.prediction_type)
        return build_scheduler(self.request.scheduler, config)

    def generators(self, seeds: tuple[int, ...] | list[int]) -> list[Any]:
        """One CPU generator per seed, freshly seeded (the same numbers on every device)."""
        import torch

        return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]

    def status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    def refuse_nan(self, pixels: Any) -> None:
        """A NaN in decoded pixels means a black image: say what to change instead."""
        floats = np.asarray(pixels)
        if floats.dtype.kind == "f" and bool(np.isnan(floats).any()):
            loaded = self.loaded
            path = loaded.acceleration.record()
            raise GenerationFailedError(
                f"The model produced NaN values (a black image) in {loaded.dtype_name} on "
                f"{loaded.device}{_path_words(path)}.",
                _nan_advice(loaded.dtype_name, path),
            )

    def to_images(self, pixels: Any) -> tuple[Image.Image, ...]:
        """Decoded float pixels (N, H, W, 3) in 0..1 as PIL images, after the NaN check."""
        from diffusers.utils import numpy_to_pil

        self.refuse_nan(pixels)
        return tuple(numpy_to_pil(np.asarray(pixels)))


def _path_words(path: str) -> str:
    return "" if path == EAGER else f" with --accelerate {path}"


def _nan_advice(dtype_name: str, path: str) -> str:
    """What to change: half precision overflows first, then an accelerated path, then the file."""
    if dtype_name != "float32":
        return (
            "Use --dtype float32, or keep the model's attention upcast on (SD 2.1-768 needs it "
            "in float16)."
        )
    if path != EAGER:
        return (
            "Run it again with --accelerate none (Settings → Accelerate: none); if "
            "that also fails, the model file is likely damaged: download it again."
        )
    return (
        "In float32 this means the model file is likely damaged, or the settings are extreme "
        "(a very high CFG scale): lower the CFG scale or try another sampler, and if it "
        "persists, download the model again."
    )
