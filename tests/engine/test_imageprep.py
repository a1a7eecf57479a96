"""Processing sizes for img2img / inpaint inputs and how an input is fitted to one."""

from __future__ import annotations

import pytest

from sd21_desktop.engine.imageprep import choose_fit, default_size


@pytest.mark.parametrize(
    ("input_size", "native", "expected"),
    [
        ((512, 512), 512, (512, 512)),
        ((70, 50), 512, (72, 64)),  # rounded up (64 px minimum): padded, never resampled
        ((500, 333), 512, (504, 336)),
        ((1024, 768), 512, (512, 384)),  # longer side to the native size, aspect kept
        ((1920, 1080), 768, (768, 432)),
        ((768, 1366), 768, (432, 768)),
        ((300, 200), 64, (64, 64)),  # the 64 px minimum wins
        ((4000, 100), 512, (512, 64)),
    ],
)
def test_default_size_caps_to_the_native_size_keeping_aspect(
    input_size: tuple[int, int], native: int, expected: tuple[int, int]
) -> None:
    width, height = default_size(input_size, native)
    assert (width, height) == expected
    assert width % 8 == 0
    assert height % 8 == 0


def test_one_given_side_sets_the_other_by_the_aspect_ratio() -> None:
    assert default_size((1000, 500), 512, width=640) == (640, 320)
    assert default_size((1000, 500), 512, height=256) == (512, 256)
    assert default_size((1000, 500), 512, width=200, height=96) == (200, 96)


@pytest.mark.parametrize(
    ("input_size", "processing", "fit"),
    [
        ((64, 64), (64, 64), "same"),
        ((70, 50), (72, 64), "pad"),
        ((67, 64), (72, 64), "pad"),
        ((20, 10), (64, 64), "pad"),
        ((70, 50), (80, 64), "resize"),  # more than rounding up: scaled
        ((300, 200), (64, 64), "resize"),
        ((73, 64), (72, 64), "resize"),
    ],
)
def test_choose_fit(input_size: tuple[int, int], processing: tuple[int, int], fit: str) -> None:
    assert choose_fit(input_size, processing) == fit
