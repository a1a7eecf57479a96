"""ControlNet's per-step cost: no unit, one unit, two units, and diffusers' own ControlNet pipeline.

    python bench/controlnet.py --size tiny
    python bench/controlnet.py --size full --resolution 512 --steps 2 --repeats 1

The model is a synthetic SD2.1 (random weights, the real architecture and compute) and the
ControlNets are built from its UNet (diffusers' ``from_unet``: the encoder half and the zero
convolutions, so about half a UNet's work per step). Per step = the median time between step ends
(the first measured from the call's start), so the VAE decode is left out. The runs alternate in
each repeat: none, diffusers' ``StableDiffusionControlNetPipeline`` with one unit, ours with that
unit, two units. Expect about 1.4x per unit; our overhead on diffusers' pipeline should stay
within 3 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _build(folder: Path, size: str) -> tuple[Path, Path, Path]:
    from sd21_desktop.engine.synthetic import save_synthetic_model
    from sd21_desktop.engine.synthetic_controlnet import save_synthetic_controlnet

    model, first, second = folder / "model", folder / "cn-1", folder / "cn-2"
    started = time.perf_counter()
    if not (model / "model_index.json").exists():
        save_synthetic_model(model, size=size, flavour="v")  # type: ignore[arg-type]
    for seed, path in ((0, first), (1, second)):
        if not (path / "config.json").exists():
            save_synthetic_controlnet(path, model, seed=seed)
    print(f"models ready in {time.perf_counter() - started:.1f}s", flush=True)
    return model, first, second


def _step_times(started: float, ends: list[float]) -> float:
    return statistics.median([b - a for a, b in zip([started, *ends], ends, strict=False)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["tiny", "full"], default="tiny")
    parser.add_argument("--resolution", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--model-dir", default=None, help="reuse (or keep) the synthetic models")
    args = parser.parse_args()

    import numpy as np
    import torch
    from diffusers import ControlNetModel, StableDiffusionControlNetPipeline
    from PIL import Image

    from sd21_desktop.engine.control_units import ControlUnit
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.engine.schedulers import build_scheduler

    quiet_libraries()
    resolution = args.resolution or (64 if args.size == "tiny" else 512)
    steps = args.steps or (10 if args.size == "tiny" else 2)
    repeats = args.repeats or (5 if args.size == "tiny" else 1)
    folder = Path(args.model_dir) if args.model_dir else Path(tempfile.mkdtemp())
    model, first, second = _build(folder, args.size)
    inputs = InputImages(folder / "inputs")
    scribble = np.zeros((resolution, resolution, 3), np.uint8)
    scribble[resolution // 3 : resolution // 3 + 4, resolution // 8 : -resolution // 8] = 255
    control = Image.fromarray(scribble)
    image_id = inputs.put(control)
    units = (ControlUnit(str(first), image_id), ControlUnit(str(second), image_id, 0.5))
    request = GenerationRequest(
        prompt="a lighthouse on a cliff at dawn, oil painting",
        negative_prompt="blurry",
        model=str(model),
        seed=1,
        steps=steps,
        width=resolution,
        height=resolution,
    )
    engine = Engine()
    loaded = engine.load(str(model))
    raw = StableDiffusionControlNetPipeline(
        **{k: v for k, v in loaded.pipeline.components.items() if k != "image_encoder"},
        controlnet=ControlNetModel.from_pretrained(str(first)),
    )
    raw.set_progress_bar_config(disable=True)

    def ours(count: int) -> float:
        result = engine.generate(request.replace(controls=units[:count]), inputs=inputs)
        return float(result.timings["median_step_s"])

    def diffusers_one() -> float:
        ends: list[float] = []

        def on_step(pipe: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> Any:
            ends.append(time.perf_counter())
            return tensors

        raw.scheduler = build_scheduler(request.scheduler, loaded.base_scheduler_config)
        started = time.perf_counter()
        raw(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            image=control,
            num_inference_steps=steps,
            guidance_scale=request.guidance_scale,
            width=resolution,
            height=resolution,
            generator=torch.Generator("cpu").manual_seed(request.seed),
            callback_on_step_end=on_step,
        )
        return _step_times(started, ends)

    runs = {"none": lambda: ours(0), "diffusers one unit": diffusers_one}
    runs.update({"one unit": lambda: ours(1), "two units": lambda: ours(2)})
    if args.size == "tiny":
        for run in runs.values():
            run()  # warm-up; skipped at full size, where a run costs minutes
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(run())
            print(f"  {name}: {times[name][-1]:.3f} s/step", flush=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"{args.size} SD2.1 architecture, {resolution}x{resolution}, {steps} steps, {repeats} "
        f"alternating repeat(s), CPU ({torch.get_num_threads()} threads), {loaded.dtype_name}"
    )
    for name, value in median.items():
        print(f"{name:>20}: {value:.3f} s/step ({value / median['none']:.2f}x no control)")
    overhead = median["one unit"] / median["diffusers one unit"]
    verdict = "within" if overhead <= 1.03 else "OVER"
    print(f"ours/diffusers with one unit: {overhead:.4f} ({verdict} the 3 % target)")


if __name__ == "__main__":
    main()
