"""The GPU figures in one command: raw diffusers vs the engine (eager, compiled), printed as JSON.

    python bench/gpu_suite.py            # on a CUDA machine; about 5-7 minutes on one GPU
    python bench/gpu_suite.py --quick    # 512² batch 1 only

Builds the full-size SD 2.1 (768-v) architecture with random weights in fp16 (no download) and
times, at 512² and 768², batch 1 and 4: raw ``StableDiffusionPipeline`` (SDPA), the engine with
``--accelerate none`` and with ``--accelerate compile`` (``max-autotune-no-cudagraphs``,
channels_last, fp16 with the config's attention upcast, fp32 VAE re-decode only on overflow).
Per case: it/s of the denoising loop (CFG batch 2x), peak GPU memory; per compiled shape the
compile time. Without CUDA it says so in one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STEPS = 10
CASES = [(512, 1), (512, 4), (768, 1), (768, 4)]


def refuse_without_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_suite: this PyTorch sees no CUDA GPU; run it on a machine with an NVIDIA GPU "
            "and the CUDA build of torch.",
            file=sys.stderr,
        )
        raise SystemExit(2)


def timed(function: Any) -> tuple[float, Any]:
    import torch

    torch.cuda.synchronize()
    started = time.perf_counter()
    value = function()
    torch.cuda.synchronize()
    return time.perf_counter() - started, value


def raw_case(raw: Any, side: int, batch: int) -> dict[str, Any]:
    import torch

    def call() -> Any:
        return raw(
            prompt="a lighthouse at dawn", num_inference_steps=STEPS, width=side, height=side,
            num_images_per_prompt=batch, generator=torch.Generator("cpu").manual_seed(1),
            output_type="latent",
        )  # fmt: skip

    call()  # warm-up
    torch.cuda.reset_peak_memory_stats()
    seconds, _ = timed(call)
    return {"it_s": round(STEPS / seconds, 2), "peak_gib": peak_gib()}


def engine_case(engine: Any, model: Path, side: int, batch: int) -> dict[str, Any]:
    import torch

    from sd21_desktop.engine.request import GenerationRequest

    request = GenerationRequest(
        prompt="a lighthouse at dawn", model=str(model), seed=1, steps=STEPS, width=side,
        height=side, batch_size=batch,
    )  # fmt: skip
    first, _ = timed(lambda: engine.generate(request))  # warm-up; compiles a new shape
    torch.cuda.reset_peak_memory_stats()
    _, result = timed(lambda: engine.generate(request))
    state = engine.cache.loaded.acceleration
    return {
        "it_s": round(1.0 / result.timings["median_step_s"], 2),
        "decode_s": round(result.timings["decode_s"], 3),
        "first_run_s": round(first, 1),
        "compile_s_so_far": round(state.prepare_s, 1),
        "ran": result.runtime.accelerate,
        "peak_gib": peak_gib(),
    }


def peak_gib() -> float:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="512² batch 1 only")
    args = parser.parse_args()
    refuse_without_cuda()
    import torch
    from diffusers import StableDiffusionPipeline

    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.engine.synthetic import save_synthetic_model

    quiet_libraries()
    cases = CASES[:1] if args.quick else CASES
    work = Path(tempfile.mkdtemp(prefix="gpu-suite-"))
    model = save_synthetic_model(work / "model", size="full", flavour="v")
    report: dict[str, Any] = {"gpu": torch.cuda.get_device_name(), "steps": STEPS, "cases": {}}
    raw = StableDiffusionPipeline.from_pretrained(str(model), dtype=torch.float16).to("cuda")
    raw.set_progress_bar_config(disable=True)
    for side, batch in cases:
        report["cases"][f"{side}x{batch}"] = {"raw_diffusers": raw_case(raw, side, batch)}
    del raw
    torch.cuda.empty_cache()
    for choice in ("none", "compile"):
        options = RuntimeOptions(device="cuda", accelerate=choice, cache_dir=str(work / "cache"))
        engine = Engine(options)
        for side, batch in cases:
            case = engine_case(engine, model, side, batch)
            report["cases"][f"{side}x{batch}"][f"engine_{choice}"] = case
        del engine
        torch.cuda.empty_cache()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
