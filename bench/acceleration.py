"""Accelerated denoising against eager PyTorch: the same generation, paths alternated in one run.

    python bench/acceleration.py --size full --resolution 512 --steps 3 --repeats 2
    python bench/acceleration.py --size tiny --paths none,openvino,compile

One engine loads the model (a synthetic SD2.1 with random weights: the real architecture and
compute) with the first accelerated path; "none" runs the same pipeline with its parts' own
eager ``forward`` (the accelerated ones are lifted off for that run), so only one copy of the
weights is in memory. Per path: median seconds per denoising step (CFG batch 2), the VAE decode,
the one-time conversion/compile time, RSS after the run, and the PSNR of the final image against
eager. ``--second-start`` then starts a new process that reuses the saved conversion and reports
how many shapes it had to convert (0 expected) and its load time. ``roofline`` bounds what any
path can reach here: the UNet's arithmetic per step over this CPU's best matrix-product rate
(f32 and bf16), against the eager step. Prints JSON last.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def psnr(a: Any, b: Any) -> float:
    import numpy as np

    mse = float(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


@contextmanager
def eager(pipeline: Any) -> Any:
    """Run with the class forwards: lift the accelerated instance ``forward`` off, then back."""
    modules = [pipeline.unet, pipeline.vae.decoder, pipeline.vae.encoder, pipeline.text_encoder]
    saved = [module.__dict__.pop("forward", None) for module in modules]
    try:
        yield
    finally:
        for module, forward in zip(modules, saved, strict=True):
            if forward is not None:
                module.forward = forward


def run_once(engine: Any, request: Any, path: str) -> dict[str, Any]:
    from sd21_desktop.engine.acceleration import EAGER

    loaded = engine.cache.loaded
    started = time.perf_counter()
    if path == EAGER:
        with eager(loaded.pipeline):
            result = engine.generate(request)
    else:
        result = engine.generate(request)
    total_s = time.perf_counter() - started
    print(
        f"ran {path}: {total_s:.1f} s, {result.timings['median_step_s']:.2f} s/step",
        file=sys.stderr,
    )
    return {
        "total_s": total_s,
        "median_step_s": result.timings["median_step_s"],
        "decode_s": result.timings["decode_s"],
        "image": result.images[0],
        "ran": EAGER if path == EAGER else result.runtime.accelerate,
        "notices": result.notices,
    }


def preview_s(resolution: int) -> float:
    """Median cost of the per-step preview (latents → RGB) for this size's latents."""
    import timeit

    import torch

    from sd21_desktop.engine.preview import latents_to_rgb

    latents = torch.randn(1, 4, resolution // 8, resolution // 8)
    return sorted(timeit.repeat(lambda: latents_to_rgb(latents), number=1, repeat=21))[10]


def matmul_gflops(dtype_name: str, side: int = 4096, repeats: int = 5) -> float:
    """The best rate of one large square matrix product: what this CPU's cores reach at most."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(side, side).to(dtype), torch.randn(side, side).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * side**3 / best / 1e9


def roofline(unet: Any, resolution: int, eager_step_s: float) -> dict[str, Any]:
    """How fast a denoising step could be at all: the UNet's arithmetic (CFG batch 2) at this
    CPU's best matrix-product rate. No f32 path can beat ``floor_s_per_step["f32"]``, so
    ``ceiling_speedup_vs_eager["f32"]`` bounds every path within float noise of eager."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    side = resolution // 8
    sample = torch.randn(2, unet.config.in_channels, side, side)
    context = torch.randn(2, 77, unet.config.cross_attention_dim)
    forward = type(unet).forward  # the eager graph, whatever path is installed
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        forward(unet, sample, torch.tensor([500.0, 500.0]), context)
    tflop = counter.get_total_flops() / 1e12
    f32, bf16 = matmul_gflops("float32"), matmul_gflops("bfloat16")
    floor = {"f32": tflop * 1000 / f32, "bf16": tflop * 1000 / bf16}
    return {
        "unet_tflop_per_step": float(f"{tflop:.4g}"),
        "matmul_gflops": {"f32": round(f32, 1), "bf16": round(bf16, 1)},
        "floor_s_per_step": {k: float(f"{v:.3g}") for k, v in floor.items()},
        "ceiling_speedup_vs_eager": {k: round(eager_step_s / v, 2) for k, v in floor.items()},
    }


def measure(args: argparse.Namespace, folder: Path, cache: Path) -> dict[str, Any]:
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine

    paths = args.paths.split(",")
    fast = [p for p in paths if p != "none"]
    request = GenerationRequest(
        prompt="a lighthouse on a cliff at dawn, oil painting", negative_prompt="blurry",
        model=str(folder), seed=1, steps=args.steps, width=args.resolution,
        height=args.resolution,
    )  # fmt: skip
    report: dict[str, Any] = {"paths": {}}
    for accelerated in fast or ["none"]:
        engine = Engine(RuntimeOptions(device="cpu", accelerate=accelerated, cache_dir=str(cache)))
        loaded = engine.load(str(folder))
        state = loaded.acceleration
        first = run_once(engine, request, accelerated)  # converts/compiles, then runs
        runs: dict[str, list[dict[str, Any]]] = {"none": [], accelerated: []}
        for _ in range(args.repeats):
            for path in ("none", accelerated):
                runs[path].append(run_once(engine, request, path))
                runs[path][-1]["rss_gib"] = rss_gib()
        for path, results in runs.items():
            step = sorted(r["median_step_s"] for r in results)[len(results) // 2]
            entry = {
                "s_per_step": round(step, 3),
                "decode_s": round(sorted(r["decode_s"] for r in results)[len(results) // 2], 3),
                "rss_gib": round(max(r["rss_gib"] for r in results), 2),
                "ran": results[-1]["ran"],
                "notices": results[-1]["notices"],
            }
            key = f"none (alternated with {accelerated})" if path == "none" else path
            report["paths"][key] = entry
        eager_image = runs["none"][-1]["image"]
        fast_entry = report["paths"][accelerated]
        eager_step = report["paths"][f"none (alternated with {accelerated})"]["s_per_step"]
        fast_entry["speedup_per_step"] = round(eager_step / fast_entry["s_per_step"], 3)
        fast_entry["psnr_db_vs_eager"] = round(psnr(runs[accelerated][-1]["image"], eager_image), 2)
        fast_entry["prepare_s"] = round(state.prepare_s, 1)
        fast_entry["first_run_s"] = round(first["total_s"], 1)
        fast_entry["converted_shapes"] = state.prepared
        if "roofline" not in report:
            report["roofline"] = roofline(loaded.pipeline.unet, args.resolution, eager_step)
        del engine, loaded
    fastest = min(entry["s_per_step"] for entry in report["paths"].values())
    report["preview_ms"] = round(preview_s(args.resolution) * 1000, 3)
    report["preview_percent_of_fastest_step"] = round(report["preview_ms"] / 10 / fastest, 3)
    report["peak_rss_gib"] = round(peak_rss_gib(), 2)
    return report


def second_start(args: argparse.Namespace, folder: Path, cache: Path) -> dict[str, Any]:
    """A new process with the same model and size: it must convert nothing."""
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine

    engine = Engine(RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=str(cache)))
    request = GenerationRequest(
        prompt="a lighthouse", model=str(folder), seed=1, steps=1, width=args.resolution,
        height=args.resolution,
    )  # fmt: skip
    started = time.perf_counter()
    result = engine.generate(request)
    state = engine.cache.loaded.acceleration if engine.cache.loaded else None
    return {
        "converted_shapes": state.prepared if state else -1,
        "reused_shapes": state.reused if state else -1,
        "load_optimised_s": round(state.prepare_s, 1) if state else -1,
        "one_step_generation_s": round(time.perf_counter() - started, 1),
        "ran": result.runtime.accelerate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--paths", default="none,openvino", help="comma-separated")
    parser.add_argument("--model-dir", default=None, help="reuse a saved synthetic model folder")
    parser.add_argument("--cache-dir", default=None, help="reuse a conversion cache")
    parser.add_argument("--second-start", action="store_true", help="(internal) reuse run")
    parser.add_argument("--no-second-start", action="store_true")
    args = parser.parse_args()
    args.resolution = args.resolution or (64 if args.size == "tiny" else 512)

    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.synthetic import save_synthetic_model

    quiet_libraries()
    work = Path(tempfile.mkdtemp(prefix="bench-accelerate-"))
    folder = Path(args.model_dir) if args.model_dir else work / "model"
    cache = Path(args.cache_dir) if args.cache_dir else work / "cache"
    if args.second_start:
        print(json.dumps(second_start(args, folder, cache)))
        return
    if not (folder / "model_index.json").exists():
        started = time.perf_counter()
        save_synthetic_model(folder, size=args.size, flavour="v")
        print(f"built synthetic {args.size} model in {time.perf_counter() - started:.1f}s")
    report = {"size": args.size, "resolution": args.resolution, "steps": args.steps,
              "repeats": args.repeats, "cfg_batch": 2, **measure(args, folder, cache)}  # fmt: skip
    if "openvino" in args.paths and not args.no_second_start:
        command = [sys.executable, __file__, "--second-start", "--size", args.size,
                   "--resolution", str(args.resolution), "--model-dir", str(folder),
                   "--cache-dir", str(cache)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        lines = done.stdout.strip().splitlines()
        report["second_start"] = json.loads(lines[-1]) if lines else {"error": done.stderr[-500:]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
