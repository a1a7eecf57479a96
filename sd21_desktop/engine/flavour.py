"""Which PyTorch this program carries (the CPU or the CUDA build) and whether an NVIDIA GPU is
there, found without importing torch.

``--version`` and the start of the window use this, so both must stay cheap: the build is told
by the files of the torch package (``libtorch_cuda.so`` / ``torch_cuda.dll`` exist only in a
CUDA build), the GPU by the NVIDIA driver's traces (``/proc/driver/nvidia/gpus`` on Linux,
``nvidia-smi`` on the ``PATH`` elsewhere). Neither loads a library or starts a process.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Flavour = Literal["cpu", "cuda", "none"]
CUDA_LIBRARIES = ("libtorch_cuda.so", "torch_cuda.dll")
PROC = Path("/proc")  # where the NVIDIA driver lists its GPUs (tests point it at a fake tree)
WHY_CUDA = (
    "the CUDA build runs the model on that GPU, typically seconds per image "
    "instead of minutes on the CPU"
)


def torch_folder() -> Path | None:
    """The torch package's folder, without importing it (None if torch is not installed)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:  # frozen: the libraries lie in _internal/torch/lib
        return Path(bundle) / "torch"
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def torch_flavour(folder: Path | None = None) -> Flavour:
    """ "cuda" when torch's CUDA library is there, "cpu" when only the CPU one is, else "none"."""
    folder = torch_folder() if folder is None else folder
    if folder is None or not folder.is_dir():
        return "none"
    lib = folder / "lib"
    return "cuda" if any((lib / name).exists() for name in CUDA_LIBRARIES) else "cpu"


def nvidia_gpu(
    proc: Path | None = None, which: Callable[[str], str | None] = shutil.which
) -> str | None:
    """The first NVIDIA GPU's name ("NVIDIA GPU" if unnamed), or None when no driver shows one.

    On Linux the driver lists each GPU under /proc/driver/nvidia/gpus/<bus id>/information
    ("Model: NVIDIA GeForce RTX 4090"); elsewhere nvidia-smi, installed with the driver, is
    the cheapest sign (it is not run: that can take seconds).
    """
    gpus = (PROC if proc is None else proc) / "driver" / "nvidia" / "gpus"
    if sys.platform.startswith("linux") or gpus.exists():
        try:
            folders = sorted(gpus.iterdir())
        except OSError:
            return None
        return _gpu_name(folders[0]) if folders else None
    return "NVIDIA GPU" if which("nvidia-smi") else None


def _gpu_name(folder: Path) -> str:
    try:
        text = (folder / "information").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "NVIDIA GPU"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model" and value.strip():
            return value.strip()
    return "NVIDIA GPU"


@dataclass(frozen=True)
class BuildReport:
    """The build and the GPU, and what to tell the user about them."""

    flavour: Flavour
    gpu: str | None

    def summary(self, device: str | None = None) -> str:
        """One line for --version and Help → About; ``device`` is what torch chose, once known
        (the worker's "CUDA: …" or "CPU (…)"), else the GPU probe decides."""
        if self.flavour == "cuda":
            if device is not None and device.startswith("CUDA"):
                return f"CUDA build, running on the GPU ({device})"
            if self.gpu is None:
                return "CUDA build, running on CPU: no NVIDIA GPU found"
            if device is not None:
                return (
                    f"CUDA build, running on CPU: PyTorch cannot use the NVIDIA GPU ({self.gpu}); "
                    "update the NVIDIA driver"
                )
            return f"CUDA build, NVIDIA GPU found: {self.gpu}"
        if self.flavour == "cpu":
            return "CPU build, running on CPU" if sys.platform != "darwin" else "CPU/MPS build"
        return "no PyTorch installed"

    def cuda_hint(self) -> str | None:
        """For a CPU build on a machine with an NVIDIA GPU: the one line that says why to switch."""
        if self.flavour != "cpu" or self.gpu is None:
            return None
        return f"This is the CPU build, but an NVIDIA GPU is here ({self.gpu}): {WHY_CUDA}."


def build_report(
    folder: Path | None = None,
    proc: Path | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> BuildReport:
    return BuildReport(torch_flavour(folder), nvidia_gpu(proc, which))
