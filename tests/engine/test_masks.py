"""The engine's mask operations: the same effective mask as the canvas, and an exact paste-back."""

from __future__ import annotations

import numpy as np
import pytest

from sd21_desktop.engine import masks


def random_mask(seed: int, shape: tuple[int, int] = (40, 56)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, dtype=np.uint8)
    mask[8:20, 10:30] = 255
    mask[25:30, 40:50] = rng.integers(0, 256, (5, 10), dtype=np.uint8)
    return mask


@pytest.mark.parametrize(("grow", "feather"), [(0, 0.0), (3, 0.0), (-2, 0.0), (2, 1.5), (-1, 3)])
def test_effective_mask_equals_processing_the_whole_array(grow: int, feather: float) -> None:
    mask = random_mask(grow + 10)
    expected = masks.feather(masks.grow_shrink(mask, grow), feather)
    assert np.array_equal(masks.effective_mask(mask, grow, feather), expected)


def test_effective_mask_of_an_empty_mask_is_empty() -> None:
    empty = np.zeros((10, 12), dtype=np.uint8)
    assert not masks.effective_mask(empty, 4, 2.0).any()
    assert masks.nonzero_box(empty) is None
    assert masks.nonzero_box(random_mask(1)) == (10, 8, 50, 30)


def test_paste_through_mask_keeps_unmasked_pixels_bit_exact() -> None:
    rng = np.random.default_rng(5)
    original = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    generated = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    mask = masks.effective_mask(random_mask(2), 2, 2.0)
    out = masks.paste_through_mask(original, generated, mask)
    assert np.array_equal(out[mask == 0], original[mask == 0])
    assert np.array_equal(out[mask == 255], generated[mask == 255])
    middle = (mask > 0) & (mask < 255)
    assert middle.any()
    low = np.minimum(original, generated)[middle]
    high = np.maximum(original, generated)[middle]
    assert np.all((out[middle] >= low) & (out[middle] <= high))
    with pytest.raises(ValueError, match="shapes differ"):
        masks.paste_through_mask(original, generated[:-1], mask)
