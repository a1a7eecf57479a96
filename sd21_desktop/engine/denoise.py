"""The one place the engine calls a diffusers pipeline, and the pieces of a denoise call.

* :func:`run_pipeline` calls a pipeline with the plan's step callback hooked in (diffusers'
  ``callback_on_step_end``, or the legacy ``callback`` the x4 upscaler still takes) and records
  the call's timings; it returns the decoded float pixels. Every stage that denoises — the
  :class:`~sd21_desktop.engine.stages.Denoise` stage and each tile of the upscale stage — goes
  through it.
* :func:`initial_latents` makes txt2img's starting noise from the seeds' generators, exactly as
  diffusers' ``prepare_latents`` would (the pipeline then draws the same numbers it would have
  drawn itself). It is the one function to replace for another noise (e.g. variation seeds).
* :func:`count_steps` says ahead of the call how many steps a pipeline will report, so the
  progress total covers the whole plan from the first step.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.request import GenerationRequest

LatentMaker = Callable[[Any, GenerationRequest, Sequence[Any], Any], Any]
"""``(pipeline, request, generators, dtype) -> latents``: a denoise's starting noise."""


def initial_latents(
    pipeline: Any, request: GenerationRequest, generators: Sequence[Any], dtype: Any
) -> Any:
    """txt2img's starting noise, one slice per generator, unscaled (the pipeline multiplies it
    by the scheduler's ``init_noise_sigma``): diffusers' own ``prepare_latents`` draw."""
    from diffusers.utils.torch_utils import randn_tensor

    scale = pipeline.vae_scale_factor
    shape = (
        len(generators),
        pipeline.unet.config.in_channels,
        request.height // scale,
        request.width // scale,
    )
    return randn_tensor(
        shape, generator=list(generators), device=pipeline._execution_device, dtype=dtype
    )


def count_steps(scheduler: Any, steps: int, strength: float | None = None) -> int:
    """The steps a pipeline reports for ``steps`` inference steps (Heun: its real model steps),
    of which img2img-like pipelines run the last ``strength`` part (``get_timesteps``)."""
    scheduler.set_timesteps(steps, device="cpu")
    count = len(scheduler.timesteps)
    if strength is None:
        return count
    start = max(steps - min(int(steps * strength), steps), 0)
    return max(count - start * scheduler.order, 0)


def _takes_step_end_callback(pipeline: Any) -> bool:
    return "callback_on_step_end" in inspect.signature(pipeline.__call__).parameters


def run_pipeline(pipeline: Any, arguments: dict[str, Any], context: StageContext) -> Any:
    """Call ``pipeline(**arguments)``, reporting each step; the decoded pixels (N, H, W, 3),
    float in 0..1 (or, with ``output_type="latent"`` in ``arguments``, the latents). Cancel
    (raised from the step callback) also skips the VAE decode."""
    progress = context.progress
    first = len(progress.step_ends)
    hook: dict[str, Any]
    if _takes_step_end_callback(pipeline):

        def on_step_end(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> Any:
            progress.step(tensors["latents"], pipe.num_timesteps)
            return tensors

        hook = {"callback_on_step_end": on_step_end}
    else:  # the x4 upscaler: one legacy callback per inference step
        hook = {"callback": lambda step, t, latents: progress.step(latents), "callback_steps": 1}
    started = time.perf_counter()
    with warnings.catch_warnings():
        # In float16 the upscaler upcasts its VAE for the decode through a method diffusers has
        # deprecated: the same numbers, but a FutureWarning on every call.
        warnings.filterwarnings("ignore", message=".*upcast_vae.*", category=FutureWarning)
        output = pipeline(**{"output_type": "np", **hook, **arguments})
    context.times.record(started, progress.step_ends[first:], time.perf_counter())
    if arguments.get("output_type") == "latent":  # the latents themselves (a torch tensor)
        return output.images
    return np.asarray(output.images)
