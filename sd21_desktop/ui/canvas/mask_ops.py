"""Mask post-processing for the canvas: the engine's grow/shrink/feather plus rectangle helpers.

The pixel operations live in :mod:`sd21_desktop.engine.masks` (Qt-free, shared with the engine,
so the canvas preview and the generation use the very same effective mask). This module adds the
:class:`PixelRect` views the canvas needs to refresh only the region a stroke changed.
"""

from __future__ import annotations

import numpy as np

from sd21_desktop.engine.masks import (
    dilate,
    effective_mask,
    erode,
    feather,
    grow_shrink,
    influence_margin,
    nonzero_box,
)
from sd21_desktop.engine.masks import process as _process

from .geometry import PixelRect

__all__ = [
    "dilate",
    "effective_mask",
    "effective_region",
    "erode",
    "feather",
    "grow_shrink",
    "influence_margin",
    "nonzero_bounds",
]


def effective_region(
    mask: np.ndarray, rect: PixelRect, grow: int, feather_radius: float
) -> np.ndarray:
    """The effective mask inside ``rect`` (clipped to the mask), computed from a crop around it.

    Exactly equal to ``effective_mask(mask, ...)[rect]``: the crop extends
    :func:`influence_margin` px beyond ``rect`` (or to the image border, where the border rules
    are the same for the crop as for the whole image).
    """
    height, width = mask.shape
    rect = rect.intersected(PixelRect.full(width, height))
    if rect.is_empty():
        return np.zeros((rect.height, rect.width), dtype=np.uint8)
    if grow == 0 and feather_radius <= 0:
        rows, cols = rect.slices()
        return mask[rows, cols].copy()
    margin = influence_margin(grow, feather_radius)
    crop_rect = rect.adjusted(margin).intersected(PixelRect.full(width, height))
    rows, cols = crop_rect.slices()
    result = _process(mask[rows, cols], grow, feather_radius)
    inner = rect.translated(-crop_rect.x0, -crop_rect.y0)
    rows, cols = inner.slices()
    return result[rows, cols].copy()


def nonzero_bounds(mask: np.ndarray) -> PixelRect | None:
    """The bounding box of the nonzero pixels, or None for an empty mask."""
    box = nonzero_box(mask)
    return None if box is None else PixelRect(*box)
