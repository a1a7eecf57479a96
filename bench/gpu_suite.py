"""The GPU figures in one command: raw diffusers vs the engine (eager, compiled), as JSON.

    python bench/gpu_suite.py --out gpu.json              # on a CUDA machine, ≤ 8 minutes
    python bench/gpu_suite.py --quick                     # 512² batch 1 only
    python bench/gpu_suite.py --dry-run                   # the logic on the CPU, tiny model

Builds the full-size SD 2.1 (768-v) architecture with random weights in fp16 (no download) and
times, at 512² and 768², batch 1 and 4: raw ``StableDiffusionPipeline`` (SDPA), the engine with
``--accelerate none`` and with ``--accelerate compile`` (channels_last, fp16 with the config's
attention upcast, fp32 VAE re-decode only on overflow) in each ``--compile-modes`` mode.
Per case: it/s of the denoising loop (CFG batch 2x), decode time, peak GPU memory; per compiled
shape the compile time. Also, at 512² batch 1: the engine's eager image against raw diffusers'
(same scheduler, seed and prompts), the compiled image's PSNR against eager, and the per-step
preview's cost as a fraction of a step. Cases run in order of importance; once ``--budget-s`` is
spent the rest are recorded as skipped, and the JSON is rewritten after every case, so a run that
is cut short still leaves its figures. Without CUDA (and without ``--dry-run``) it says so in one
line and exits with status 2.

On a machine whose Python has CUDA torch but not our stack, carry these wheels (pure Python but
regex) and install them with ``pip install --no-deps --target DIR`` ahead of the image's own:
diffusers 0.42.1, transformers 5.24.0, huggingface_hub 2.4.0, peft 0.21.2, platformdirs 4.14.9,
httpx2 2.16.2, httpcore2 2.16.2, truststore 0.10.5, click 8.5.1, importlib_metadata 10.2.0,
lazy-importer 0.1.0, regex 2026.11.19.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = [(512, 1), (768, 1), (512, 4), (768, 4)]
PROMPT = "a lighthouse at dawn"
NEGATIVE = "blurry"
SCHEDULER = "euler"


@dataclass
class Setup:
    device: str
    steps: int
    size: str
    scale: int
    """Image sides are divided by this (the dry run's tiny model works at 1/8 the size)."""
    out: Path | None
    budget_s: float
    started: float = field(default_factory=time.perf_counter)
    report: dict[str, Any] = field(default_factory=dict)

    def side(self, side: int) -> int:
        return side // self.scale

    def left_s(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def record(self, key: str, name: str, value: Any) -> None:
        self.report.setdefault("cases", {}).setdefault(key, {})[name] = value
        print(f"{key} {name}: {json.dumps(value)}", flush=True)
        self.save()

    def save(self) -> None:
        self.report["elapsed_s"] = round(time.perf_counter() - self.started, 1)
        if self.out is not None:
            self.out.write_text(json.dumps(self.report, indent=1))


def synchronize(setup: Setup) -> None:
    import torch

    if setup.device == "cuda":
        torch.cuda.synchronize()


def timed(setup: Setup, function: Callable[[], Any]) -> tuple[float, Any]:
    synchronize(setup)
    started = time.perf_counter()
    value = function()
    synchronize(setup)
    return time.perf_counter() - started, value


def reset_peak(setup: Setup) -> None:
    import torch

    if setup.device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_gib(setup: Setup) -> float | None:
    import torch

    if setup.device != "cuda":
        return None
    return round(torch.cuda.max_memory_allocated() / 2**30, 2)


def raw_pipeline(setup: Setup, model: Path) -> Any:
    import torch
    from diffusers import StableDiffusionPipeline

    from sd21_desktop.engine.schedulers import build_scheduler

    dtype = torch.float16 if setup.device == "cuda" else torch.float32
    raw = StableDiffusionPipeline.from_pretrained(str(model), dtype=dtype).to(setup.device)
    raw.scheduler = build_scheduler(SCHEDULER, raw.scheduler.config)
    raw.set_progress_bar_config(disable=True)
    return raw


def raw_call(setup: Setup, raw: Any, side: int, batch: int, output_type: str) -> Any:
    import torch

    return raw(
        prompt=PROMPT, negative_prompt=NEGATIVE, num_inference_steps=setup.steps,
        width=setup.side(side), height=setup.side(side), num_images_per_prompt=batch,
        generator=torch.Generator("cpu").manual_seed(1), output_type=output_type,
    )  # fmt: skip


def raw_case(setup: Setup, raw: Any, side: int, batch: int) -> dict[str, Any]:
    raw_call(setup, raw, side, batch, "latent")  # warm-up
    reset_peak(setup)
    seconds, _ = timed(setup, lambda: raw_call(setup, raw, side, batch, "latent"))
    return {"it_s": round(setup.steps / seconds, 2), "peak_gib": peak_gib(setup)}


def request_for(setup: Setup, model: Path, side: int, batch: int) -> Any:
    from sd21_desktop.engine.request import GenerationRequest

    return GenerationRequest(
        prompt=PROMPT, negative_prompt=NEGATIVE, model=str(model), seed=1, steps=setup.steps,
        width=setup.side(side), height=setup.side(side), batch_size=batch, scheduler=SCHEDULER,
    )  # fmt: skip


def engine_case(setup: Setup, engine: Any, model: Path, side: int, batch: int) -> Any:
    request = request_for(setup, model, side, batch)
    first, _ = timed(setup, lambda: engine.generate(request))  # warm-up; compiles a new shape
    reset_peak(setup)
    _, result = timed(setup, lambda: engine.generate(request))
    state = engine.cache.loaded.acceleration
    figures = {
        "it_s": round(1.0 / result.timings["median_step_s"], 2),
        "decode_s": round(result.timings["decode_s"], 3),
        "first_run_s": round(first, 1),
        "compile_s_so_far": round(state.prepare_s, 1),
        "ran": result.runtime.accelerate,
        "notices": result.notices,
        "peak_gib": peak_gib(setup),
    }
    return figures, result


def psnr(a: Any, b: Any) -> float:
    import numpy as np

    error = np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)
    return math.inf if error == 0 else round(10 * math.log10(255.0**2 / error), 2)


def compare(a: Any, b: Any) -> dict[str, Any]:
    import numpy as np

    left, right = np.asarray(a, dtype=np.int16), np.asarray(b, dtype=np.int16)
    return {
        "identical": bool(np.array_equal(left, right)),
        "max_abs_diff": int(np.abs(left - right).max()),
        "psnr_db": None if np.array_equal(left, right) else psnr(left, right),
    }


def preview_cost(setup: Setup, step_s: float) -> dict[str, Any]:
    """The per-step preview (latent→RGB, copied to the host) as a fraction of one step."""
    import torch

    from sd21_desktop.engine.preview import latents_to_rgb

    dtype = torch.float16 if setup.device == "cuda" else torch.float32
    latents = torch.randn(2, 4, setup.side(512) // 8, setup.side(512) // 8, dtype=dtype)
    latents = latents.to(setup.device)
    times = []
    for _ in range(30):
        seconds, _ = timed(setup, lambda: latents_to_rgb(latents))
        times.append(seconds)
    median = statistics.median(times)
    return {"preview_ms": round(median * 1000, 3), "share_of_step": round(median / step_s, 4)}


def raw_reference(setup: Setup, raw: Any) -> Any:
    """Raw diffusers' 512² batch-1 image as uint8, rounded as its own PIL output is."""
    import numpy as np

    reference = raw_call(setup, raw, 512, 1, "pil").images[0]
    return np.asarray(reference)


def schedule(modes: list[str], case_count: int) -> list[tuple[str, int, int]]:
    """Eager in every case, then each compile mode in every case: name the modes in order of
    importance, since the budget runs out on the last."""
    cases = CASES[:case_count]
    choices = ["none", *(f"compile:{mode}" for mode in modes)]
    return [(choice, side, batch) for choice in choices for side, batch in cases]


def make_engine(setup: Setup, choice: str) -> Any:
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.runner import Engine

    folder = Path(setup.report["work"]) / "cache" / choice.replace(":", "-")
    return Engine(RuntimeOptions(setup.device, accelerate=choice.partition(":")[0],
                                 cache_dir=str(folder)))  # fmt: skip


def run_engines(setup: Setup, model: Path, modes: list[str], images: dict[str, Any]) -> None:
    import numpy as np

    from sd21_desktop.engine.acceleration import compiled

    engines: dict[str, Any] = {}
    for choice, side, batch in schedule(modes, setup.report["case_count"]):
        key = f"{side}x{batch}"
        if setup.left_s() < 0:
            setup.record(key, f"engine_{choice}", "skipped: the time budget was spent")
            continue
        engine = engines.setdefault(choice, make_engine(setup, choice))
        compiled.CUDA_MODE = choice.partition(":")[2]  # read once, when the backend starts
        try:
            figures, result = engine_case(setup, engine, model, side, batch)
        except Exception as error:  # report it and go on with the next case
            figures, result = {"failed": f"{type(error).__name__}: {error}"[:500]}, None
        setup.record(key, f"engine_{choice}", figures)
        if result is not None and key == "512x1":
            images[choice] = np.asarray(result.images[0])
            if choice == "none":
                setup.report["preview"] = preview_cost(setup, 1.0 / figures["it_s"])


def image_comparisons(setup: Setup, images: dict[str, Any]) -> None:
    eager = images.get("none")
    if eager is None:
        return
    found = {"engine_eager_vs_raw_diffusers": compare(eager, images["raw"])}
    for name, image in images.items():
        if name.startswith("compile"):
            found[f"engine_{name}_vs_eager"] = compare(image, eager)
    setup.report["images_512x1"] = found
    setup.save()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="512² batch 1 only")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny model, 2 steps")
    parser.add_argument("--out", type=Path, help="write the JSON here after every case")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=420.0,
        help="skip the remaining engine cases once this many seconds are spent",
    )
    parser.add_argument(
        "--compile-modes",
        default="default,max-autotune-no-cudagraphs",
        help="comma-separated torch.compile modes to time, most important first",
    )
    return parser.parse_args()


def start(args: argparse.Namespace) -> Setup:
    import torch

    if args.dry_run:
        return Setup("cpu", 2, "tiny", 8, args.out, args.budget_s)
    if not torch.cuda.is_available():
        print(
            "gpu_suite: this PyTorch sees no CUDA GPU; run it on a machine with an NVIDIA GPU "
            "and the CUDA build of torch (or use --dry-run to check the script on the CPU).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return Setup("cuda", 10, "full", 1, args.out, args.budget_s)


def main() -> None:
    args = arguments()
    setup = start(args)
    import torch

    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.synthetic import save_synthetic_model

    quiet_libraries()
    work = Path(tempfile.mkdtemp(prefix="gpu-suite-"))
    setup.report.update({
        "gpu": torch.cuda.get_device_name() if setup.device == "cuda" else "cpu (dry run)",
        "torch": torch.__version__, "steps": setup.steps, "scheduler": SCHEDULER,
        "work": str(work), "case_count": 1 if args.quick else len(CASES),
    })  # fmt: skip
    built, model = timed(setup, lambda: save_synthetic_model(work / "model", setup.size, "v"))
    setup.report["build_model_s"] = round(built, 1)
    images: dict[str, Any] = {}
    raw = raw_pipeline(setup, model)
    for side, batch in CASES[: setup.report["case_count"]]:
        setup.record(f"{side}x{batch}", "raw_diffusers", raw_case(setup, raw, side, batch))
    images["raw"] = raw_reference(setup, raw)
    del raw
    run_engines(setup, model, args.compile_modes.split(","), images)
    image_comparisons(setup, images)
    print(json.dumps(setup.report, indent=1))


if __name__ == "__main__":
    main()
