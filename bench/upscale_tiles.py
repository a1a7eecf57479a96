"""Tiled vs untiled x4 upscaling: time and peak memory at a few input sizes.

    python bench/upscale_tiles.py                       # tiny model, CPU, sizes 64 128 192
    python bench/upscale_tiles.py --sizes 64 128 256 --steps 5 --tile-size 64 --tile-overlap 16
    python bench/upscale_tiles.py --size full --device cuda --dtype float16 --sizes 128 256 512

Each measurement runs in a fresh process (so peaks do not leak between runs): the engine loads
the model, warms up on a small image, then upscales a ``S x S`` input once, either in tiles
(``--tile-size``, ``--tile-overlap``) or in one piece (tile size = the input size). Reported:
wall time of ``Engine.generate``, the growth of the process's peak resident memory during it
(``VmHWM`` reset through ``/proc/self/clear_refs`` on Linux, else ``ru_maxrss``) and, on CUDA,
``torch.cuda.max_memory_allocated``. The model is the synthetic x4 upscaler
(:mod:`sd21_desktop.engine.synthetic`): tiny by default, or the full-size architecture with
random weights (``--size full``; same compute as the real model).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_peak_kib() -> int:
    """The process's peak resident memory in KiB (VmHWM, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_now_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _reset_rss_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """One upscale in this process (the worker side)."""
    import numpy as np
    import torch
    from PIL import Image

    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.engine.upscale import tile_count

    rng = np.random.default_rng(0)
    side = args.worker_side
    y, x = np.mgrid[0:side, 0:side]
    pixels = np.stack([x * 255 / side, y * 255 / side, (x + y) * 127 / side], -1)
    image = Image.fromarray(
        np.clip(pixels + rng.normal(0, 10, pixels.shape), 0, 255).astype(np.uint8)
    )
    store = InputImages(Path(args.model_dir).parent / "inputs")
    engine = Engine(RuntimeOptions(device=args.device, dtype=args.dtype))
    base: dict[str, Any] = {
        "prompt": "a detailed photograph",
        "model": args.model_dir,
        "mode": "upscale",
        "seed": 1,
        "steps": args.steps,
        "scheduler": "ddim",
    }
    warm = Image.fromarray(np.asarray(image)[:16, :16])
    engine.generate(GenerationRequest(**base, init_image=store.put(warm)), inputs=store)
    tiled = args.worker_mode == "tiled"
    tile_size = args.tile_size if tiled else max(32, -(-side // 8) * 8)
    request = GenerationRequest(
        **base,
        init_image=store.put(image),
        tile_size=tile_size,
        tile_overlap=min(args.tile_overlap, tile_size // 2) if tiled else 0,
    )
    cuda = engine.cache.loaded is not None and engine.cache.loaded.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = _rss_now_kib()
    reset = _reset_rss_peak()
    before_peak = _rss_peak_kib()
    started = time.perf_counter()
    result = engine.generate(request, inputs=store)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = _rss_peak_kib()
    growth = peak - before if reset else max(0, peak - before_peak)
    return {
        "side": side,
        "mode": args.worker_mode,
        "tiles": tile_count(side, side, request.tile_size, request.tile_overlap),
        "output": list(result.images[0].size),
        "seconds": seconds,
        "rss_growth_mib": growth / 1024,
        "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 192])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tile-size", type=int, default=64)
    parser.add_argument("--tile-overlap", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--model-dir", default=None, help="reuse a saved synthetic model folder")
    parser.add_argument("--worker-side", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-mode", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker_side is not None:
        print(json.dumps(measure(args)))
        return

    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.synthetic import save_synthetic_model

    quiet_libraries()
    folder = Path(args.model_dir) if args.model_dir else Path(tempfile.mkdtemp()) / "upscaler"
    if not (folder / "model_index.json").exists():
        started = time.perf_counter()
        save_synthetic_model(folder, size=args.size, mode="upscale")
        print(f"built synthetic {args.size} x4 upscaler in {time.perf_counter() - started:.1f}s")
    print(
        f"{args.size} model on {args.device}, {args.steps} steps, tiles of {args.tile_size} px "
        f"with {args.tile_overlap} px overlap"
    )
    header = f"{'input':>7} {'output':>11} {'mode':>8} {'tiles':>5} {'time s':>8} {'RSS +MiB':>9}"
    print(header + (f" {'CUDA MiB':>9}" if args.device.startswith("cuda") else ""))
    for side in args.sizes:
        for mode in ("tiled", "untiled"):
            command = [
                sys.executable,
                __file__,
                "--worker-side",
                str(side),
                "--worker-mode",
                mode,
                "--model-dir",
                str(folder),
                "--steps",
                str(args.steps),
                "--tile-size",
                str(args.tile_size),
                "--tile-overlap",
                str(args.tile_overlap),
                "--device",
                args.device,
                "--dtype",
                args.dtype,
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, env={**os.environ}, check=False
            )
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{side:>7} {'':>11} {mode:>8} failed: {tail}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            line = (
                f"{side:>4}px² {row['output'][0]:>5}x{row['output'][1]:<5} {mode:>8} "
                f"{row['tiles']:>5} {row['seconds']:>8.2f} {row['rss_growth_mib']:>9.1f}"
            )
            if row["cuda_peak_mib"] is not None:
                line += f" {row['cuda_peak_mib']:>9.1f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
