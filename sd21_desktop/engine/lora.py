"""LoRA files (kohya/AUTOMATIC1111 and diffusers formats) applied through diffusers and peft.

diffusers' ``load_lora_weights`` reads both formats and injects peft LoRA layers into the UNet
and the text encoder; ``set_adapters`` sets each LoRA's weight (text encoder and UNet apart).
Nothing is fused into the model's weights: a LoRA no longer wanted is deleted from the peft
layers, and when none is wanted every LoRA layer is removed (``unload_lora_weights``), so the
model is the one that was loaded, bit for bit. LoRAs that stay wanted from one job to the next
stay loaded (only their weights are set again), so a run of jobs with the same LoRA loads it once.

Before loading, the file's layers are matched against the model's: a LoRA for SD 1.x (768-wide
text, 4-D projections) or SDXL does not fit an SD 2.x model and is refused with a message naming
the file, instead of failing half-way inside the model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sd21_desktop.engine.networks import read_tensor_file
from sd21_desktop.errors import UserFacingError

ADAPTER_PREFIX = "lora_"
_A_SUFFIX, _B_SUFFIX = ".lora_A.weight", ".lora_B.weight"


@dataclass(frozen=True)
class ActiveLora:
    name: str
    path: Path
    sha256: str
    text_encoder_weight: float
    unet_weight: float

    @property
    def adapter_name(self) -> str:
        return adapter_name(self.sha256)


def adapter_name(sha256: str) -> str:
    """Adapters are named by content, so the same file under two names loads once."""
    return ADAPTER_PREFIX + sha256[:16]


def _refuse(path: Path, reason: str, hint: str = "") -> UserFacingError:
    return UserFacingError(
        f"The LoRA {path} cannot be used: {reason}.",
        hint or "Remove it from the LoRA folder or replace it with a LoRA made for SD 2.x.",
    )


def read_lora(path: Path) -> dict[str, Any]:
    """The tensors of a LoRA file (``.pt``/``.bin``/``.ckpt`` only with ``weights_only``)."""
    import torch

    data = read_tensor_file(path, "a LoRA", lambda reason: _refuse(path, reason))
    if not isinstance(data, dict) or not data or not all(torch.is_tensor(v) for v in data.values()):
        raise _refuse(path, "it is not a LoRA (no tensors by name)")
    if not any("lora" in key for key in data):
        raise _refuse(path, "it holds no LoRA layers")
    return dict(data)


def _peft_layers(pipeline: Any, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The file's layers in peft's naming, per component (what diffusers will inject)."""
    from diffusers.utils import (
        convert_state_dict_to_diffusers,
        convert_state_dict_to_peft,
        convert_unet_state_dict_to_peft,
    )

    converted, _ = pipeline.lora_state_dict(dict(state))
    unet = {k[5:]: v for k, v in converted.items() if k.startswith("unet.")}
    text = {k[13:]: v for k, v in converted.items() if k.startswith("text_encoder.")}
    return {
        "unet": convert_unet_state_dict_to_peft(unet) if unet else {},
        "text_encoder": convert_state_dict_to_peft(convert_state_dict_to_diffusers(text))
        if text
        else {},
    }


def _module(model: Any, path: str) -> Any:
    for candidate in (path, path.removeprefix("text_model.")):
        try:
            return model.get_submodule(candidate)
        except AttributeError:
            continue
    return None


def _mismatch(model: Any, layers: dict[str, Any]) -> str | None:
    """Why the LoRA's layers do not fit ``model``, or None when they all fit."""
    for key, down in layers.items():
        if not key.endswith(_A_SUFFIX):
            continue
        path = key[: -len(_A_SUFFIX)]
        module = _module(model, path)
        if module is None:
            return f"the model has no layer {path}"
        weight = getattr(module, "weight", None)
        if weight is None or weight.dim() != down.dim() or weight.shape[1] != down.shape[1]:
            wanted = "x".join(str(s) for s in down.shape[1:])
            have = "none" if weight is None else "x".join(str(s) for s in weight.shape[1:])
            return f"its layer {path} takes inputs of {wanted}, the model's takes {have}"
        up = layers.get(path + _B_SUFFIX)
        if up is not None and up.shape[0] != weight.shape[0]:
            return f"its layer {path} gives {up.shape[0]} outputs, the model's {weight.shape[0]}"
    return None


def check_lora_fits(pipeline: Any, path: Path, state: dict[str, Any]) -> None:
    try:
        layers = _peft_layers(pipeline, state)
    except Exception as error:  # diffusers' converters raise ValueError/KeyError on odd files
        raise _refuse(path, f"its layer names are not a known LoRA format ({error})") from error
    if not layers["unet"] and not layers["text_encoder"]:
        raise _refuse(path, "none of its layers belongs to a UNet or text encoder")
    for component, model in (("unet", pipeline.unet), ("text_encoder", pipeline.text_encoder)):
        reason = _mismatch(model, layers[component])
        if reason is not None:
            raise _refuse(
                path,
                f"it was made for another model ({component}: {reason}; an SD 1.x or SDXL LoRA?)",
            )


def loaded_adapters(pipeline: Any) -> set[str]:
    listed = pipeline.get_list_adapters() if hasattr(pipeline, "get_list_adapters") else {}
    return {name for names in listed.values() for name in names}


def apply_loras(pipeline: Any, loras: Sequence[ActiveLora]) -> None:
    """Make exactly ``loras`` active on the pipeline's UNet and text encoder."""
    present = {name for name in loaded_adapters(pipeline) if name.startswith(ADAPTER_PREFIX)}
    wanted = {lora.adapter_name: lora for lora in loras}
    if not wanted:
        if present:
            pipeline.unload_lora_weights()  # removes every LoRA layer: the model as loaded
        return
    stale = sorted(present - set(wanted))
    if stale:
        pipeline.delete_adapters(stale)
    for name, lora in wanted.items():
        if name not in present:
            _load(pipeline, lora)
    names = list(wanted)
    weights = [
        {"text_encoder": lora.text_encoder_weight, "unet": lora.unet_weight}
        for lora in wanted.values()
    ]
    pipeline.set_adapters(names, adapter_weights=weights)


def _load(pipeline: Any, lora: ActiveLora) -> None:
    state = read_lora(lora.path)
    check_lora_fits(pipeline, lora.path, state)
    try:
        with warnings.catch_warnings():
            # peft's note that a second adapter joins the first: several LoRAs are the point.
            warnings.filterwarnings("ignore", message="Already found a `peft_config`")
            pipeline.load_lora_weights(state, adapter_name=lora.adapter_name)
    except Exception as error:  # shapes or names diffusers/peft could not place
        if lora.adapter_name in loaded_adapters(pipeline):
            pipeline.delete_adapters([lora.adapter_name])
        first_line = (str(error) or type(error).__name__).splitlines()[0][:200]
        raise _refuse(lora.path, f"loading it failed ({first_line})") from error
