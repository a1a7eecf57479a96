"""Running a :class:`GenerationRequest` through the cached diffusers pipeline.

The pipeline call is exactly what diffusers' own ``StableDiffusionPipeline`` does for the same
inputs, so an image from the engine equals, pixel for pixel, the reference on the same device.
Initial noise comes from CPU generators seeded with seed, seed+1, … so a seed gives the same
image on every device.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.loader import LoadedPipeline, PipelineCache, StatusCallback
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.errors import GenerationCancelled, GenerationFailedError, OutOfMemoryError


@dataclass(frozen=True)
class StepInfo:
    """One finished denoising step; ``latents`` is the pipeline's tensor (do not modify)."""

    step: int
    total: int
    elapsed: float
    latents: Any


@dataclass(frozen=True)
class RuntimeInfo:
    """How an image was made, beside what was asked for: saved next to the request."""

    device: str
    dtype: str
    model_path: str
    prediction_type: str
    torch_version: str
    diffusers_version: str
    app_version: str
    platform: str

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class GenerationResult:
    request: GenerationRequest
    images: list[Any]
    """PIL images, one per seed."""
    seeds: list[int]
    runtime: RuntimeInfo
    timings: dict[str, float] = field(default_factory=dict)
    batch_indices: list[int] = field(default_factory=list)
    """Which image of the request's batch each image is (all of them unless a re-run kept one)."""

    def __post_init__(self) -> None:
        if not self.batch_indices:
            self.batch_indices = list(range(len(self.images)))


StepCallback = Callable[[StepInfo], None]
CancelCheck = Callable[[], bool]


def _runtime_info(loaded: LoadedPipeline, prediction_type: str) -> RuntimeInfo:
    import diffusers
    import torch

    from sd21_desktop import __version__

    return RuntimeInfo(
        device=loaded.device,
        dtype=loaded.dtype_name,
        model_path=str(loaded.local_path),
        prediction_type=prediction_type,
        torch_version=torch.__version__,
        diffusers_version=diffusers.__version__,
        app_version=__version__,
        platform=platform.platform(terse=True),
    )


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()


class Engine:
    """Owns the pipeline cache; one call to :meth:`generate` per request. Not thread-safe."""

    def __init__(
        self,
        options: RuntimeOptions | None = None,
        allow_download: bool = True,
        tqdm_class: Any | None = None,
    ) -> None:
        self.options = options or RuntimeOptions()
        self.allow_download = allow_download
        self.tqdm_class = tqdm_class
        self.cache = PipelineCache()

    def load(
        self,
        model: str,
        on_status: StatusCallback | None = None,
        allow_download: bool | None = None,
    ) -> LoadedPipeline:
        download = self.allow_download if allow_download is None else allow_download
        return self.cache.get(model, self.options, on_status, download, self.tqdm_class)

    def generate(
        self,
        request: GenerationRequest,
        on_step: StepCallback | None = None,
        should_cancel: CancelCheck | None = None,
        on_status: StatusCallback | None = None,
    ) -> GenerationResult:
        """Run the request; raises :class:`GenerationCancelled` if ``should_cancel`` turns true."""
        import torch

        started = time.perf_counter()
        loaded = self.load(request.model, on_status)
        load_done = time.perf_counter()
        pipeline = loaded.pipeline
        pipeline.scheduler = build_scheduler(
            request.scheduler, loaded.scheduler_config_for(request.prediction_type)
        )
        seeds = request.seeds()
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        step_ends: list[float] = []
        denoise_start = time.perf_counter()

        def on_step_end(
            pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]
        ) -> dict[str, Any]:
            now = time.perf_counter()
            step_ends.append(now)
            if on_step is not None:
                on_step(
                    StepInfo(index + 1, pipe.num_timesteps, now - denoise_start, tensors["latents"])
                )
            if should_cancel is not None and should_cancel():
                # Raising skips the remaining steps *and* the VAE decode of a discarded result.
                raise GenerationCancelled()
            return tensors

        if on_status is not None:
            on_status("Generating…")
        try:
            output = pipeline(
                prompt=request.prompt,
                negative_prompt=request.negative_prompt or None,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance_scale,
                width=request.width,
                height=request.height,
                num_images_per_prompt=request.batch_size,
                generator=generators if len(generators) > 1 else generators[0],
                output_type="np",
                callback_on_step_end=on_step_end,
            )
        except GenerationCancelled:
            raise
        except Exception as error:
            if _is_out_of_memory(error):
                raise OutOfMemoryError(
                    f"Out of memory on {loaded.device} at {request.width}x{request.height}, "
                    f"batch {request.batch_size}.",
                    "Lower the size or batch, or turn on attention slicing, VAE tiling or CPU "
                    "offload in Settings.",
                ) from error
            raise
        finished = time.perf_counter()
        pixels = output.images
        if pixels.dtype.kind == "f" and bool(torch.from_numpy(pixels).isnan().any()):
            raise GenerationFailedError(
                f"The model produced NaN values (a black image) in {loaded.dtype_name} on "
                f"{loaded.device}.",
                "Use --dtype float32, or keep the model's attention upcast on (SD 2.1-768 "
                "needs it in float16).",
            )
        images = pipeline.numpy_to_pil(pixels)
        step_times = [b - a for a, b in zip([denoise_start, *step_ends], step_ends, strict=False)]
        timings = {
            "load_s": load_done - started,
            "denoise_s": (step_ends[-1] if step_ends else finished) - denoise_start,
            "decode_s": finished - (step_ends[-1] if step_ends else denoise_start),
            "total_s": finished - started,
            "median_step_s": statistics.median(step_times) if step_times else 0.0,
        }
        return GenerationResult(
            request=request,
            images=images,
            seeds=seeds,
            runtime=_runtime_info(loaded, pipeline.scheduler.config.prediction_type),
            timings=timings,
        )
