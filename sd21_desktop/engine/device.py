"""Device, dtype and memory options, and the choices ``auto`` makes.

auto picks CUDA, then Apple MPS, then the CPU; half precision on CUDA (SD2.1-768 keeps its
attention upcast in fp32, from the model config), fp32 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sd21_desktop.errors import UserFacingError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")
DTYPE_CHOICES = ("auto", "float16", "bfloat16", "float32")
Attention = Literal["sdpa", "xformers"]
ATTENTION_CHOICES: tuple[str, ...] = ("sdpa", "xformers")
ACCELERATE_CHOICES: tuple[str, ...] = ("none", "compile", "openvino", "openvino-bf16", "auto")
"""How the denoiser runs: eager PyTorch (none), torch.compile, OpenVINO (CPU), or the fastest
measured for the device (see :mod:`sd21_desktop.engine.acceleration`)."""


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run (not what to make): none of this is part of a request."""

    device: str = "auto"
    dtype: str = "auto"
    attention: Attention = "sdpa"
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    accelerate: str = "none"
    cache_dir: str | None = None
    """Where converted/compiled models are kept (None: the app's cache folder)."""

    def __post_init__(self) -> None:
        if self.device not in DEVICE_CHOICES and not self.device.startswith("cuda:"):
            raise UserFacingError(
                f"Unknown device {self.device!r}.", f"Use one of: {', '.join(DEVICE_CHOICES)}."
            )
        if self.dtype not in DTYPE_CHOICES:
            raise UserFacingError(
                f"Unknown dtype {self.dtype!r}.", f"Use one of: {', '.join(DTYPE_CHOICES)}."
            )
        if self.attention not in ATTENTION_CHOICES:
            raise UserFacingError(
                f"Unknown attention {self.attention!r}.",
                f"Use one of: {', '.join(ATTENTION_CHOICES)}.",
            )
        if self.accelerate not in ACCELERATE_CHOICES:
            raise UserFacingError(
                f"Unknown accelerate choice {self.accelerate!r}.",
                f"Use one of: {', '.join(ACCELERATE_CHOICES)}.",
            )


def resolve_device(preference: str) -> str:
    import torch

    if preference == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise UserFacingError(
            "--device cuda was asked for, but this PyTorch sees no CUDA GPU.",
            "Install the CUDA build of PyTorch (see the README) or use --device cpu.",
        )
    if preference == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise UserFacingError(
            "--device mps was asked for, but Apple's Metal backend is not available.",
            "Use --device cpu.",
        )
    return preference


def resolve_dtype(preference: str, device: str) -> Any:
    import torch

    if preference == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if preference in ("float16", "bfloat16") and device == "cpu":
        raise UserFacingError(
            f"--dtype {preference} is not supported on the CPU "
            "(it is slow and gives wrong colours).",
            "Use --dtype float32, or run on a GPU.",
        )
    return getattr(torch, preference)


def dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")
