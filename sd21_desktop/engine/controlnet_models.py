"""ControlNet models: the known SD 2.1 ones, resolving a unit's model, loading it, checking it.

A unit's model is a hub id (only ``config.json`` and the safetensors weights are downloaded,
into the shared Hugging Face cache, through :func:`..downloads.download_model`), a local
diffusers folder (``config.json`` + weights) or a single ``.safetensors`` file (converted by
diffusers' ``from_single_file``; its architecture is taken from the loaded SD2 UNet, which an SD2
ControlNet copies). Loaded ControlNets are kept (a few) so a re-run does not read them again.

A ControlNet made for SD 1.x has another cross-attention width (768) than SD 2.x (1024): it is
refused by :func:`check_fits` before any denoising step runs.
"""

from __future__ import annotations

import json
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sd21_desktop.engine.models import (
    SINGLE_FILE_SUFFIXES,
    ModelSource,
    identify,
    local_snapshot,
)
from sd21_desktop.errors import ModelLoadError, ModelNotFoundError, UserFacingError

CONTROLNET_PATTERNS = ("config.json", "diffusion_pytorch_model.safetensors")
"""What a ControlNet hub repo contributes (config first: it says what the model is)."""
KEEP_LOADED = 3


@dataclass(frozen=True)
class KnownControlNet:
    repo_id: str
    label: str
    preprocessor: str
    """The preprocessor of ours that makes its control image from a picture ("" = none)."""
    expects: str
    """What its control image shows, in a line (the Models window)."""


_THIBAUD = "thibaud/controlnet-sd21-{}-diffusers"
KNOWN_CONTROLNETS: tuple[KnownControlNet, ...] = (
    KnownControlNet(
        _THIBAUD.format("canny"),
        "Canny edges",
        "canny",
        "white edge lines on black (the canny preprocessor)",
    ),
    KnownControlNet(
        _THIBAUD.format("depth"),
        "Depth",
        "depth",
        "a depth map, white = near (the depth preprocessor)",
    ),
    KnownControlNet(
        _THIBAUD.format("scribble"),
        "Scribble",
        "none",
        "white strokes on black: paint them on the control layer",
    ),
    KnownControlNet(
        _THIBAUD.format("lineart"),
        "Line art",
        "lineart",
        "white line drawing on black (the lineart preprocessor, or invert a drawing)",
    ),
    KnownControlNet(
        _THIBAUD.format("hed"),
        "HED soft edges",
        "hed",
        "soft white edges on black (the hed preprocessor: controlnet-aux and its weights)",
    ),
    KnownControlNet(
        _THIBAUD.format("openpose"),
        "OpenPose",
        "openpose",
        "an OpenPose skeleton on black (the openpose preprocessor: controlnet-aux and weights)",
    ),
    KnownControlNet(
        _THIBAUD.format("zoedepth"),
        "ZoeDepth",
        "depth",
        "a depth map, white = near (ZoeDepth-made maps match best)",
    ),
    KnownControlNet(
        _THIBAUD.format("color"),
        "Colour",
        "",
        "a coarse colour layout (the picture reduced to 64x64 blocks)",
    ),
    KnownControlNet(
        _THIBAUD.format("ade20k"),
        "Segmentation",
        "",
        "an ADE20K segmentation map (segmenter not included)",
    ),
)
_LOADED: OrderedDict[tuple[str, str, str], Any] = OrderedDict()


def known_controlnet(repo_id: str) -> KnownControlNet | None:
    return next((k for k in KNOWN_CONTROLNETS if k.repo_id.lower() == repo_id.lower()), None)


def identify_controlnet(model: str) -> ModelSource:
    """Like :func:`..models.identify`, for a ControlNet: a folder needs ``config.json``."""
    path = Path(model.strip()).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"The folder {path.resolve()} is not a diffusers ControlNet: it has no "
                "config.json.",
                "Pass the folder that holds config.json and diffusion_pytorch_model.safetensors.",
            )
        return ModelSource("folder", str(path.resolve()), model)
    if path.is_file() and path.suffix.lower() in SINGLE_FILE_SUFFIXES:
        return ModelSource("single_file", str(path.resolve()), model)
    return identify(model)  # hub ids; clear errors for missing paths


def cached_controlnet(repo_id: str) -> Path | None:
    """The complete local copy of a ControlNet hub repo, if any; no network."""
    folder = local_snapshot(repo_id, CONTROLNET_PATTERNS)
    if folder is None or not all((folder / name).is_file() for name in CONTROLNET_PATTERNS):
        return None
    return folder


def local_controlnet(source: ModelSource, allow_download: bool) -> Path:
    """A local folder or file for the ControlNet, downloading a hub one if allowed."""
    if source.kind != "hub":
        return Path(source.location)
    cached = cached_controlnet(source.location)
    if cached is not None:
        return cached
    if not allow_download:
        raise ModelNotFoundError(
            f"The ControlNet {source.location} is not in the Hugging Face cache.",
            f"Download it with `hf download {source.location}`, or pass a local folder.",
        )
    from sd21_desktop.engine.downloads import download_model, tqdm_reporter

    report = tqdm_reporter(None)
    try:
        folder = download_model(source.location, report, patterns=CONTROLNET_PATTERNS)
    finally:
        report.close()
    if not (folder / CONTROLNET_PATTERNS[1]).is_file():
        raise ModelNotFoundError(
            f"{source.location} has no {CONTROLNET_PATTERNS[1]}.",
            "SD21 Desktop reads safetensors weights only: choose a repository that has them.",
        )
    return folder


def _from_single_file(path: Path, unet: Any) -> Any:
    from diffusers import ControlNetModel

    # An SD2 ControlNet's architecture is its UNet's encoder: write that config for diffusers.
    config = dict(ControlNetModel.from_unet(unet, load_weights_from_unet=False).config)
    with tempfile.TemporaryDirectory(prefix="sd21-controlnet-") as folder:
        clean = {k: v for k, v in config.items() if not k.startswith("_")}
        clean["_class_name"] = "ControlNetModel"
        Path(folder, "config.json").write_text(json.dumps(clean), encoding="utf-8")
        return ControlNetModel.from_single_file(str(path), config=folder)


def load_controlnet(
    model: str, unet: Any, dtype: Any, device: str, allow_download: bool = True
) -> Any:
    """The ControlNet ``model`` on ``device`` in ``dtype``, checked against ``unet``."""
    from diffusers import ControlNetModel

    source = identify_controlnet(model)
    key = (source.location, str(dtype), device)
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    path = local_controlnet(source, allow_download)
    try:
        if source.kind == "single_file":
            controlnet = _from_single_file(path, unet)
        else:
            controlnet = ControlNetModel.from_pretrained(str(path))
    except Exception as error:
        raise _load_error(source, error) from error
    check_fits(controlnet, unet, source.display_name)
    controlnet = controlnet.to(device=device, dtype=dtype).eval()
    _LOADED[key] = controlnet
    while len(_LOADED) > KEEP_LOADED:
        _LOADED.popitem(last=False)
    return controlnet


def _load_error(source: ModelSource, error: Exception) -> UserFacingError:
    text = str(error)
    if "size mismatch" in text or "shape" in text:
        return UserFacingError(
            f"{source.display_name} does not fit Stable Diffusion 2.x: its weights have other "
            "shapes (an SD 1.x or SDXL ControlNet?).",
            "Use a ControlNet made for SD 2.1, e.g. thibaud/controlnet-sd21-canny-diffusers.",
        )
    return ModelLoadError(
        f"{source.display_name} could not be loaded as a ControlNet ({text.splitlines()[0]}).",
        "Pass a diffusers ControlNet folder, its hub id, or a .safetensors ControlNet file.",
    )


def check_fits(controlnet: Any, unet: Any, name: str) -> None:
    """Refuse a ControlNet whose cross-attention width or blocks differ from the UNet's."""
    width, wanted = controlnet.config.cross_attention_dim, unet.config.cross_attention_dim
    if width != wanted:
        made_for = {768: "SD 1.x", 2048: "SDXL"}.get(int(width), "another model")
        raise UserFacingError(
            f"The ControlNet {name} has cross-attention width {width} ({made_for}), but this "
            f"model's UNet has {wanted} (SD 2.x): it cannot steer it.",
            "Use a ControlNet made for SD 2.1, e.g. thibaud/controlnet-sd21-canny-diffusers.",
        )
    blocks = tuple(controlnet.config.block_out_channels)
    if blocks != tuple(unet.config.block_out_channels):
        raise UserFacingError(
            f"The ControlNet {name} has blocks {list(blocks)}, this model's UNet "
            f"{list(unet.config.block_out_channels)}: it was made for another architecture.",
            "Use a ControlNet made for this model's family (SD 2.1).",
        )
