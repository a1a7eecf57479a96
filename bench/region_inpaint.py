"""Inpaint area "masked" vs "whole": time, and the scale at which the masked region is rendered.

A 96 x 96 mask inside a 2048 x 2048 image, on the tiny inpainting model (native size 64 px; with
``--model`` a real one):

* ``whole``  — the whole image at the model's size: the region is rendered at 64/2048 of its pixels;
* ``masked`` — the mask's box (+32 px padding) at the model's size, pasted back;
* ``native`` — the reference: one inpaint of a native-size (64 x 64) image.

Prints the median seconds of each (runs alternate, so a busy machine hurts all alike), the crop
scale (rendered px per input px in the region) and the targets: masked scale >= 4x whole, masked
time <= 1.1x native.

    python bench/region_inpaint.py [--steps 20] [--repeats 5] [--model DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.synthetic import save_synthetic_model


def picture(size: int) -> Image.Image:
    y, x = np.mgrid[0:size, 0:size]
    pixels = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def square_mask(size: int, side: int) -> Image.Image:
    mask = np.zeros((size, size), dtype=np.uint8)
    start = size // 2 - side // 2
    mask[start : start + side, start : start + side] = 255
    return Image.fromarray(mask, "L")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--mask", type=int, default=96)
    parser.add_argument("--model", default=None, help="an inpainting model (default: tiny)")
    args = parser.parse_args()

    temp = Path(tempfile.mkdtemp())
    model = args.model or str(save_synthetic_model(temp / "tiny-inpaint", mode="inpaint"))
    engine = Engine()
    native = engine.load(model).native_size
    store = InputImages(temp / "inputs")
    big, small = picture(args.size), picture(native)
    common = {"prompt": "a red apple", "model": model, "mode": "inpaint", "seed": 1}
    common |= {"steps": args.steps, "strength": 1.0}
    requests = {
        "whole": GenerationRequest(
            **common,
            init_image=store.put(big),
            mask_image=store.put(square_mask(args.size, args.mask)),
            width=native,  # the square image fitted to the model's size
            height=native,
        ),
        "masked": GenerationRequest(
            **common,
            init_image=store.put(big),
            mask_image=store.put(square_mask(args.size, args.mask)),
            inpaint_area="masked",
            width=native,
            height=native,
        ),
        "native": GenerationRequest(
            **common,
            init_image=store.put(small),
            mask_image=store.put(square_mask(native, max(8, args.mask * native // args.size))),
            width=native,
            height=native,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in requests}
    boxes = {}
    for _ in range(args.repeats + 1):  # the first round warms up and is dropped
        for name, request in requests.items():
            started = time.perf_counter()
            result = engine.generate(request, inputs=store)
            times[name].append(time.perf_counter() - started)
            boxes[name] = result.request.crop_box
    medians = {name: statistics.median(values[1:]) for name, values in times.items()}
    box = boxes["masked"]
    assert box is not None
    scale_whole = native / args.size
    scale_masked = native / (box[2] - box[0])
    print(
        f"{args.mask}x{args.mask} mask in {args.size}x{args.size}, model native {native} px, "
        f"{args.steps} steps, median of {args.repeats}"
    )
    for name, seconds in medians.items():
        print(f"  {name:7} {seconds:7.3f} s")
    print(f"  crop box {list(box)}; crop scale: whole {scale_whole:.4f}, masked {scale_masked:.4f}")
    ratio_scale = scale_masked / scale_whole
    ratio_time = medians["masked"] / medians["native"]
    print(
        f"masked renders the region at {ratio_scale:.1f}x the scale of whole (target >= 4x), "
        f"in {ratio_time:.2f}x the time of one native-size inpaint (target <= 1.1); "
        f"whole took {medians['whole'] / medians['native']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
