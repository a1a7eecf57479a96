"""Depth maps for depth-to-image: estimating one, checking a user's, the tensor the pipeline takes.

A depth map is an 8-bit ``L`` image, **white = near**: what MiDaS / DPT estimators predict
(relative inverse depth), and what the SD2 depth model was trained on.

* **Estimated** (:func:`estimate_depth`): the model's own ``depth_estimator``
  (``DPTForDepthEstimation``) reads the input image through its ``feature_extractor``
  (``DPTImageProcessor``); the prediction is resized (bicubic) to the input's size and min-max
  normalised — the steps ``StableDiffusionDepth2ImgPipeline.prepare_depth_map`` takes (it resizes
  to the latent size and normalises to -1..1) — then scaled to 0..255 and rounded.
* **Used**: the engine stores the map (estimated or the user's) in the content-addressed inputs
  folder and always passes *that stored 8-bit map* to the pipeline, so the first run and every
  re-run of the request get exactly the same numbers and a re-run never runs the estimator.
  (Compared with letting diffusers estimate inside the pipeline, the conditioning differs only by
  this 8-bit rounding and one extra bicubic resize.)
* **Tensor** (:func:`depth_tensor`): shape ``(1, H, W)``, float32, ``L / 255``. The pipeline
  resizes it to the latent size (bicubic) and normalises it to -1..1 itself, so any size works;
  the engine fits it to the processing size like the input image first (pad or resize), so the
  two stay aligned.

Importing this module loads no torch; the functions that need it import it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
from PIL import Image

from sd21_desktop.errors import UserFacingError

DEPTH_MODE = "L"


def is_flat(depth: Image.Image) -> bool:
    """True when the map holds one value everywhere (it says nothing about depth)."""
    values = np.asarray(depth.convert(DEPTH_MODE))
    return values.size == 0 or int(values.min()) == int(values.max())


def check_depth_map(depth: Image.Image) -> None:
    """Refuse a flat depth map: the pipeline's min-max normalisation would divide by zero."""
    if is_flat(depth):
        raise UserFacingError(
            "The depth map is flat (one grey value everywhere), so it says nothing about depth.",
            "Use a greyscale depth map with white = near and black = far, or leave it out to "
            "estimate one from the image.",
        )


def depth_tensor(depth: Image.Image) -> Any:
    """The tensor ``StableDiffusionDepth2ImgPipeline(depth_map=...)`` takes: ``(1, H, W)``,
    float32, 0..1 (the pipeline resizes and normalises it)."""
    import torch

    values = np.asarray(depth.convert(DEPTH_MODE), dtype=np.float32) / np.float32(255.0)
    return torch.from_numpy(np.ascontiguousarray(values))[None]


def estimate_depth(pipeline: Any, image: Image.Image) -> Image.Image:
    """The depth map (``L``, white = near, the image's size) of ``image`` by the depth estimator
    of a loaded ``StableDiffusionDepth2ImgPipeline`` (see the module docstring)."""
    import torch

    estimator = getattr(pipeline, "depth_estimator", None)
    processor = getattr(pipeline, "feature_extractor", None)
    if estimator is None or processor is None:
        raise UserFacingError(
            "This depth model has no depth estimator (depth_estimator/ and feature_extractor/ "
            "are missing from its folder), so it cannot estimate depth from the image.",
            "Supply a depth map (greyscale, white = near), or re-download the depth model.",
        )
    rgb = image.convert("RGB")
    device = pipeline._execution_device
    dtype = estimator.dtype
    pixels = processor(images=[rgb], return_tensors="pt").pixel_values
    pixels = pixels.to(device=device, dtype=dtype)
    # DPT-hybrid has batch-norm layers that misbehave in half precision: autocast, as diffusers.
    half = dtype in (torch.float16, torch.bfloat16) and device.type != "mps"
    autocast = torch.autocast(device.type, dtype=dtype) if half else contextlib.nullcontext()
    with torch.no_grad(), autocast:
        predicted = estimator(pixels).predicted_depth
    depth = torch.nn.functional.interpolate(
        predicted.float().unsqueeze(1),
        size=(rgb.height, rgb.width),
        mode="bicubic",
        align_corners=False,
    )[0, 0]
    low, high = float(depth.min()), float(depth.max())
    if not np.isfinite(low) or not np.isfinite(high):
        raise UserFacingError(
            "The depth estimator produced invalid values (NaN) for this image.",
            "Use --dtype float32, or supply a depth map.",
        )
    if high - low <= 0.0:
        raise UserFacingError(
            "The depth estimator found no depth differences in this image (a flat depth map).",
            "Supply a depth map (greyscale, white = near) instead.",
        )
    scaled = (depth - low) / (high - low) * 255.0
    values = scaled.round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    return Image.fromarray(values, mode=DEPTH_MODE)
