"""Control-image preprocessors: canny (cv2.Canny, AUTOMATIC1111's call), depth, invert, none."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.control_preprocess import canny_edges, preprocess
from sd21_desktop.engine.runner import Engine
from sd21_desktop.errors import UserFacingError

# cv2.Canny(image, 100, 200) of a white 6x6 square at (3, 3) on a 12x12 black picture: a closed
# one-pixel outline (the corners cut, as Canny's non-maximum suppression does).
SQUARE_EDGES = np.array(
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ],
    np.uint8,
)


def square(value: int = 255) -> Image.Image:
    pixels = np.zeros((12, 12, 3), np.uint8)
    pixels[3:9, 3:9] = value
    return Image.fromarray(pixels, "RGB")


def test_canny_outlines_a_square_in_white_on_black() -> None:
    edges = np.asarray(preprocess("canny", square()))
    assert edges.shape == (12, 12, 3)
    assert np.array_equal(edges[..., 0], SQUARE_EDGES * 255)
    assert np.array_equal(edges[..., 0], edges[..., 2])


def test_canny_thresholds_above_the_contrast_find_no_edge() -> None:
    faint = square(20)  # a Sobel gradient of 80 at most: below the low threshold 100
    assert not np.asarray(canny_edges(faint)).any()
    assert np.asarray(canny_edges(faint, 10, 20)).any()


def test_bad_canny_thresholds_are_explained() -> None:
    with pytest.raises(UserFacingError, match="low <= high"):
        canny_edges(square(), 200, 100)


def test_invert_and_none() -> None:
    drawing = Image.fromarray(255 - np.asarray(square()), "RGB")  # black lines on white
    assert np.array_equal(np.asarray(preprocess("invert", drawing)), np.asarray(square()))
    assert np.array_equal(
        np.asarray(preprocess("none", square().convert("L"))), np.asarray(square())
    )


def test_depth_is_the_depth_modes_estimate_as_rgb(tiny_depth_model_dir: Path) -> None:
    engine = Engine()
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), np.uint8))

    def estimate(image: Image.Image) -> Image.Image:
        return engine.estimate_depth(image, str(tiny_depth_model_dir))

    depth = preprocess("depth", picture, estimate_depth=estimate)
    expected = np.asarray(estimate(picture))
    assert depth.mode == "RGB"
    assert depth.size == (48, 32)
    for channel in range(3):
        assert np.array_equal(np.asarray(depth)[..., channel], expected)


def test_depth_without_an_estimator_and_unknown_names_are_explained() -> None:
    with pytest.raises(UserFacingError, match="depth model"):
        preprocess("depth", square())
    with pytest.raises(UserFacingError, match="Unknown preprocessor 'segment'"):
        preprocess("segment", square())
