#!/usr/bin/env python3
"""Set up a virtual environment and run the app or the tests: the README's two commands.

    python3 dev.py run     # create .venv, install the app, open the window
    python3 dev.py test    # create .venv, install the app and test tools, run all checks

PyTorch: an existing torch in .venv is kept. Otherwise with an NVIDIA GPU (``nvidia-smi`` found)
the CUDA build is installed (on Windows from the PyTorch index); without one, or with ``CI`` set,
``torch==2.13.0``. ``SD21_TORCH_SPEC`` and ``SD21_TORCH_INDEX`` override the choice, e.g.
``SD21_TORCH_INDEX=https://download.pytorch.org/whl/cpu`` for the small CPU-only build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SD21_VENV", ROOT / ".venv"))
CPU_TORCH = "torch==2.13.0"
TEST_ANNOTATORS = "controlnet-aux==0.0.10"
WINDOWS_CUDA_INDEX = "https://download.pytorch.org/whl/cu128"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def run(*command: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    done = subprocess.run([str(part) for part in command], cwd=ROOT, env=env)
    if done.returncode != 0:
        sys.exit(done.returncode)


def has_torch(python: Path) -> bool:
    return subprocess.run([str(python), "-c", "import torch"], capture_output=True).returncode == 0


def torch_install_args() -> list[str]:
    spec = os.environ.get("SD21_TORCH_SPEC")
    index = os.environ.get("SD21_TORCH_INDEX")
    gpu = shutil.which("nvidia-smi") is not None and not os.environ.get("CI")
    if spec is None:
        spec = "torch>=2.4" if gpu else CPU_TORCH
    if index is None and gpu and os.name == "nt":
        index = WINDOWS_CUDA_INDEX  # PyPI's Windows wheels are CPU-only
    return [spec, *(["--index-url", index] if index else [])]


def ensure_environment(extras: str) -> Path:
    python = venv_python()
    if not python.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    quiet = ["--disable-pip-version-check", "-q"]
    if not has_torch(python):
        run(python, "-m", "pip", "install", *quiet, *torch_install_args())
    run(python, "-m", "pip", "install", *quiet, "-e", f".{extras}")
    return python


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    if command == "run":
        python = ensure_environment("")
        run(python, "-m", "sd21_desktop", *sys.argv[2:])
    elif command == "test":
        python = ensure_environment("[test]")
        # The annotators' tests: controlnet-aux without its timm/torchvision (which would replace
        # the CPU torch; no torchvision build matches it here). Its deps in use are in [test].
        run(python, "-m", "pip", "install", "-q", "--no-deps", TEST_ANNOTATORS)
        bin_dir = python.parent
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1"}
        run(bin_dir / "ruff", "check", "sd21_desktop", "tests", "bench", "tools", "dev.py", env=env)
        run(bin_dir / "lint-imports", env=env)
        run(bin_dir / "mypy", env=env)
        run(python, "-m", "pytest", *sys.argv[2:], env=env)
    else:
        sys.exit(f"unknown command {command!r}: use `python3 dev.py run` or `python3 dev.py test`")


if __name__ == "__main__":
    main()
