"""``torch.compile`` as a backend: inductor on the CPU, max-autotune (no CUDA graphs) on CUDA.

Compilation happens on the first call of each shape (``dynamic=False``: static shapes); a
failure there is caught by :class:`~sd21_desktop.engine.acceleration.parts.AcceleratedForward`
and that shape runs eager. Inductor's kernel cache is pointed at the app's cache folder (unless
the user set ``TORCHINDUCTOR_CACHE_DIR``), so a second start compiles from cached kernels.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sd21_desktop.engine.acceleration.parts import Inputs, Part, Runner
from sd21_desktop.engine.acceleration.state import Acceleration

NAME = "compile"
CUDA_MODE = "max-autotune-no-cudagraphs"
"""Autotuned kernels without CUDA graphs: the scheduler's Python step between UNet calls and
the preview callback keep their freedom, and no graph pool holds memory between jobs."""


class CompileBackend:
    name = NAME

    def __init__(self, folder: Path, device: str, state: Acceleration) -> None:
        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
        self.mode = CUDA_MODE if device.startswith("cuda") else None
        self.state = state

    def prepare(self, part: Part, module: Any, inputs: Inputs) -> Runner:
        import torch

        compiled = torch.compile(part.graph(module, inputs), mode=self.mode, dynamic=False)
        first = [True]

        def run(tensors: Inputs) -> Any:
            if not first[0]:
                return compiled(*tensors)
            self.state.status("Optimising for this size (first time only)…")
            started = time.perf_counter()
            output = compiled(*tensors)
            first[0] = False
            self.state.prepared += 1
            self.state.prepare_s += time.perf_counter() - started
            return output

        return run
