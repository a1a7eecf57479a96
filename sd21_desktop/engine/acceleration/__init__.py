"""Running the denoiser faster than eager PyTorch, with the same images up to float noise.

``--accelerate`` chooses the path (:data:`~sd21_desktop.engine.device.ACCELERATE_CHOICES`):

* ``none`` — eager PyTorch, exactly as before: the reference every other path is tested against;
* ``openvino`` — the UNet, the text encoder and the VAE's encoder and decoder converted to
  OpenVINO per shape, cached on disk (:mod:`.openvino_backend`), CPU only, in f32;
* ``openvino-bf16`` — the same with the UNet in bf16 on CPUs with bf16 units: twice the f32
  speed there, but the image is no longer float noise away from eager (39-49 dB measured), so
  it is a choice the user makes, never ``auto``'s; f32 OpenVINO, with a notice, elsewhere;
* ``compile`` — ``torch.compile`` (:mod:`.compiled`);
* ``auto`` — the fastest path measured for the device that keeps the final image within float
  noise of eager: f32 OpenVINO on a CPU when it is installed (see the README's table), else
  eager. On CUDA no measurement exists yet, so auto stays eager; ``compile`` (with
  channels_last and the fp16 decode guard of :mod:`.gpu`) is the GPU path to measure with
  ``bench/gpu_suite.py``.

The parts are swapped in place (:mod:`.parts`), so every pipeline and mode runs unchanged. A
backend that is missing, that fails on a shape, or that gives NaN/inf from finite inputs leaves
eager PyTorch running with a notice — never a failed job.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sd21_desktop.engine.acceleration.openvino_backend import BF16_NAME as BF16_PATH
from sd21_desktop.engine.acceleration.openvino_backend import NAME as OPENVINO_PATH
from sd21_desktop.engine.acceleration.parts import (
    ImagePart,
    TextEncoderPart,
    UNetPart,
    install_forward,
)
from sd21_desktop.engine.acceleration.state import EAGER, Acceleration

__all__ = [
    "EAGER",
    "Acceleration",
    "install_acceleration",
    "model_identity",
    "recorded_path",
    "resolve_path",
]
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt")


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except Exception:  # ImportError, or a broken install raising anything on import
        return False
    return True


def resolve_path(requested: str, device: str, dtype_name: str) -> tuple[str, str | None]:
    """The path to run (``none``, ``compile``, ``openvino``, ``openvino-bf16``) and a notice
    when it is not the one asked for."""
    if requested in (EAGER, "compile"):
        return requested, None
    on_cpu = device == "cpu" and dtype_name == "float32"
    if requested == "auto":
        return (OPENVINO_PATH if on_cpu and openvino_available() else EAGER), None
    if not on_cpu:
        return EAGER, (
            f"OpenVINO runs on the CPU in float32 only; on {device} ({dtype_name}) the denoiser "
            "ran in plain PyTorch. Use --accelerate compile on a GPU."
        )
    if not openvino_available():
        return EAGER, (
            "OpenVINO is not installed, so the denoiser ran in plain PyTorch (pip install "
            "openvino, or choose another accelerate setting)."
        )
    if requested == BF16_PATH and not _cpu_has_bf16():
        return OPENVINO_PATH, (
            "This CPU has no bf16 units, so OpenVINO ran in f32 (slower than bf16 would be, "
            "and within float noise of plain PyTorch)."
        )
    return requested, None


def _cpu_has_bf16() -> bool:
    from sd21_desktop.engine.acceleration import openvino_backend  # patched in tests

    return openvino_backend.cpu_has_bf16()


def model_identity(local_path: Path) -> str:
    """The model's files (path, size, modification time): a changed file means a new key."""
    files = (
        [local_path]
        if local_path.is_file()
        else sorted(
            p
            for p in local_path.rglob("*")
            if p.suffix in WEIGHT_SUFFIXES or p.name.endswith(".json")
        )
    )
    text = "|".join(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return hashlib.sha256(f"{local_path}|{text}".encode()).hexdigest()


def install_acceleration(
    pipeline: Any,
    requested: str,
    device: str,
    dtype_name: str,
    identity: str,
    cache_folder: Path,
    state: Acceleration | None = None,
) -> Acceleration:
    """Accelerate ``pipeline``'s UNet, text encoder and VAE in place; the returned state records
    what ran. ``none`` changes nothing at all."""
    state = state or Acceleration()
    state.requested = requested
    path, notice = resolve_path(requested, device, dtype_name)
    if notice is not None:
        state.notice(notice)
    if path == EAGER:
        return state
    try:
        backend = _backend(path, device, identity, cache_folder, state)
    except Exception as error:  # the backend's runtime itself cannot start
        state.notice(f"{path} could not start ({type(error).__name__}: {error}); the denoiser "
                     "ran in plain PyTorch.")  # fmt: skip
        return state
    if device.startswith("cuda"):
        from sd21_desktop.engine.acceleration.gpu import guard_decoder, use_channels_last

        use_channels_last(pipeline)
        guard_decoder(pipeline)
    install_forward(pipeline.unet, UNetPart(), backend, state)
    install_forward(pipeline.text_encoder, TextEncoderPart(), backend, state)
    install_forward(pipeline.vae.encoder, ImagePart("vae_encoder"), backend, state)
    if not device.startswith("cuda"):  # the GPU decoder keeps its overflow guard
        install_forward(pipeline.vae.decoder, ImagePart("vae_decoder"), backend, state)
    state.path = path
    return state


def _backend(path: str, device: str, identity: str, folder: Path, state: Acceleration) -> Any:
    if path in (OPENVINO_PATH, BF16_PATH):
        from sd21_desktop.engine.acceleration.openvino_backend import OpenVINOBackend

        return OpenVINOBackend(folder / "openvino", identity, state, name=path)
    from sd21_desktop.engine.acceleration.compiled import CompileBackend

    return CompileBackend(folder, device, state)


def recorded_path(runtime: dict[str, Any]) -> str:
    """The accelerate choice that re-makes an image as it was made: the path its runtime info
    records (an accelerated one where the UNet ran several), ``none`` for older images."""
    from sd21_desktop.engine.device import ACCELERATE_CHOICES

    paths = [p for p in str(runtime.get("accelerate") or EAGER).split(",") if p != EAGER]
    return paths[0] if paths and paths[0] in ACCELERATE_CHOICES else EAGER
