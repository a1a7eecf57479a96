"""Running a :class:`GenerationRequest`: its mode's plan of stages, by one small runner.

A request becomes a plan (:func:`~sd21_desktop.engine.recipes.plan_for`: prepare inputs →
condition → denoise → finish, or the mode's own recipe); :meth:`Engine.run` executes any plan
and owns what every stage shares (:mod:`sd21_desktop.engine.context`): the model load through
the cache (after the stages that need no model, so a missing input fails at once), the check
that the model runs the mode, schedulers, seeded CPU generators, the step callback with one
step count across the whole plan and cancel within one step, the translation of out-of-memory
errors into advice, the NaN check, timings and notices.

Every denoise equals, pixel for pixel, what diffusers' own pipeline makes from the same inputs on
the same device (``tests/engine/test_parity.py`` and friends); initial noise comes from CPU
generators seeded with seed, seed+1, … so a seed gives the same image on every device. See
``docs/architecture.md`` for the data flow and how to add a mode.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from sd21_desktop.engine.compat import mode_notices
from sd21_desktop.engine.context import (
    CancelCheck,
    PlanProgress,
    StageContext,
    StepCallback,
    StepInfo,
)
from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.loader import LoadedPipeline, PipelineCache, StatusCallback
from sd21_desktop.engine.models import DEPTH_MODEL_ID
from sd21_desktop.engine.networks import NetworkFolders
from sd21_desktop.engine.plan import Plan, Stage, Work
from sd21_desktop.engine.recipes import plan_for
from sd21_desktop.engine.request import INPUT_MODES, GenerationRequest
from sd21_desktop.errors import GenerationCancelled, OutOfMemoryError, UserFacingError

__all__ = ["CancelCheck", "Engine", "GenerationResult", "RuntimeInfo", "StepCallback", "StepInfo"]


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
        networks: NetworkFolders | None = None,
        collect_garbage: Callable[[], object] | None = None,
    ) -> None:
        self.options = options or RuntimeOptions()
        self.networks = networks
        """The embeddings and LoRA folders (None: those of the default data folder)."""
        self.allow_download = allow_download
        self.tqdm_class = tqdm_class
        self.cache = PipelineCache(collect_garbage)

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
        """Run the request's plan; raises :class:`GenerationCancelled` if ``should_cancel``
        turns true.

        img2img, inpaint, depth and upscale read their input image, mask and depth map from
        ``inputs`` (default: the inputs folder of the app's data folder); depth stores an
        estimated depth map there and returns it in ``result.request.depth_map``.
        """
        return self.run(plan_for(request), request, on_step, should_cancel, on_status, inputs)

    def run(
        self,
        plan: Plan,
        request: GenerationRequest,
        on_step: StepCallback | None = None,
        should_cancel: CancelCheck | None = None,
        on_status: StatusCallback | None = None,
        inputs: InputImages | None = None,
    ) -> GenerationResult:
        """Run any plan for ``request`` (see the module docstring for what the runner owns)."""
        started = time.perf_counter()
        needs_store = request.mode in INPUT_MODES or request.input_hashes()
        store = (inputs or _default_inputs()) if needs_store else inputs
        notices: list[str] = []
        loaded_at = [started]

        def load() -> LoadedPipeline:
            loaded = self.load(request.model, on_status)
            notices.extend(mode_notices(loaded, request))  # refuses a mode the model cannot run
            loaded_at[0] = time.perf_counter()
            return loaded

        progress = PlanProgress(on_step, should_cancel)

        def companion(model: str) -> LoadedPipeline:
            download = self.allow_download
            return self.cache.companion(model, self.options, on_status, download, self.tqdm_class)

        networks = self.networks or _default_networks()
        context = StageContext(request, load, progress, on_status, networks, companion)
        work = Work(request=request, seeds=tuple(request.seeds()), inputs=store)
        planned: list[int] = [0] * len(plan.stages)
        for index, (stage, label) in enumerate(zip(plan.stages, plan.labels(), strict=True)):
            if stage.needs_model and progress.started is None:
                context.loaded  # noqa: B018 - the load, after the stages that need no model
                planned[index:] = [
                    later.planned_steps(work, context) for later in plan.stages[index:]
                ]
                progress.total = sum(planned)
                progress.started = time.perf_counter()
            progress.begin(label, planned[index])
            work = _run_stage(stage, work, context)
        finished = time.perf_counter()
        times = context.times
        return GenerationResult(
            request=work.request,
            images=list(work.images),
            seeds=list(work.seeds),
            runtime=_runtime_info(context.loaded, context.scheduler().config.prediction_type),
            timings={
                "load_s": loaded_at[0] - started,
                "denoise_s": times.denoise_s,
                "decode_s": times.decode_s,
                "total_s": finished - started,
                "median_step_s": times.median_step_s(),
            },
            notices=[*notices, *work.notices, *context.loaded.acceleration.take_notices()],
        )


def _run_stage(stage: Stage, work: Work, context: StageContext) -> Work:
    """One stage, with an out-of-memory error turned into advice the user can act on."""
    try:
        return stage.run(work, context)
    except (GenerationCancelled, UserFacingError):
        raise
    except Exception as error:
        if _is_out_of_memory(error):
            what, advice = stage.out_of_memory(work.request)
            raise OutOfMemoryError(
                f"Out of memory on {context.loaded.device} {what}.", advice
            ) from error
        raise


def _default_networks() -> NetworkFolders:
    from sd21_desktop.paths import resolve_paths

    return resolve_paths().network_folders()


def _default_inputs() -> InputImages:
    from sd21_desktop.paths import resolve_paths

    return InputImages(resolve_paths().inputs_dir)
