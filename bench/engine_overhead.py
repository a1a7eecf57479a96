"""Engine overhead against raw diffusers: the same generation, alternating, median s/step.

    python bench/engine_overhead.py --size tiny
    python bench/engine_overhead.py --size full --resolution 512 --steps 3 --repeats 3
    python bench/engine_overhead.py --size full --resolution 768 --device cuda --dtype float16

Both sides load the same model folder (a synthetic SD2.1 with random weights: same architecture
and compute as the real one). Target: the engine within 3 % of raw diffusers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--attention", default="sdpa")
    parser.add_argument("--model-dir", default=None, help="reuse a saved synthetic model folder")
    args = parser.parse_args()

    import torch
    from diffusers import StableDiffusionPipeline

    from sd21_desktop.engine.device import RuntimeOptions, resolve_dtype
    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.engine.schedulers import build_scheduler
    from sd21_desktop.engine.synthetic import save_synthetic_model

    quiet_libraries()
    resolution = args.resolution or (64 if args.size == "tiny" else 512)
    steps = args.steps or (20 if args.size == "tiny" else 3)
    repeats = args.repeats or (7 if args.size == "tiny" else 3)
    folder = Path(args.model_dir) if args.model_dir else Path(tempfile.mkdtemp()) / "model"
    if not (folder / "model_index.json").exists():
        started = time.perf_counter()
        save_synthetic_model(folder, size=args.size, flavour="v")
        print(f"built synthetic {args.size} model in {time.perf_counter() - started:.1f}s")

    options = RuntimeOptions(device=args.device, dtype=args.dtype, attention=args.attention)
    engine = Engine(options)
    loaded = engine.load(str(folder))
    dtype = resolve_dtype(args.dtype, loaded.device)
    raw = StableDiffusionPipeline.from_pretrained(str(folder), dtype=dtype).to(loaded.device)
    raw.set_progress_bar_config(disable=True)
    if args.attention == "xformers":
        raw.enable_xformers_memory_efficient_attention()
    request = GenerationRequest(
        prompt="a lighthouse on a cliff at dawn, oil painting",
        negative_prompt="blurry",
        model=str(folder),
        seed=1,
        steps=steps,
        width=resolution,
        height=resolution,
    )

    def sync() -> None:
        if loaded.device.startswith("cuda"):
            torch.cuda.synchronize()

    def run_raw() -> float:
        raw.scheduler = build_scheduler(request.scheduler, raw.scheduler.config)
        sync()
        started = time.perf_counter()
        raw(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            num_inference_steps=steps,
            guidance_scale=request.guidance_scale,
            width=resolution,
            height=resolution,
            generator=torch.Generator("cpu").manual_seed(request.seed),
        )
        sync()
        return (time.perf_counter() - started) / steps

    def run_engine() -> float:
        sync()
        started = time.perf_counter()
        engine.generate(request, on_step=lambda info: None, should_cancel=lambda: False)
        sync()
        return (time.perf_counter() - started) / steps

    run_raw(), run_engine()  # warm-up: kernels, allocator, caches
    raw_times: list[float] = []
    engine_times: list[float] = []
    for _ in range(repeats):
        raw_times.append(run_raw())
        engine_times.append(run_engine())
    raw_median, engine_median = statistics.median(raw_times), statistics.median(engine_times)
    device = torch.cuda.get_device_name() if loaded.device.startswith("cuda") else "CPU"
    print(
        f"{args.size} SD2.1 architecture, {resolution}x{resolution}, {steps} steps, "
        f"{repeats} alternating repeats, {device}, {loaded.dtype_name}, {args.attention}"
    )
    print(f"raw diffusers: {raw_median:.4f} s/step ({1 / raw_median:.2f} it/s, incl. decode)")
    print(f"engine:        {engine_median:.4f} s/step ({1 / engine_median:.2f} it/s, incl. decode)")
    ratio = engine_median / raw_median
    verdict = "within" if ratio <= 1.03 else "OVER"
    print(f"ratio engine/raw: {ratio:.4f} ({verdict} the 3 % target)")


if __name__ == "__main__":
    main()
