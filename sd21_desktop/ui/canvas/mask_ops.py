"""Mask post-processing (Qt-free): grow/shrink by a round structuring element, then feather.

The effective mask (what a pipeline receives) is ``feather(grow_or_shrink(mask))``:

* grow ``n > 0`` dilates by a disc of radius ``n`` px (max filter), shrink ``n < 0`` erodes by a
  disc of radius ``-n`` (min filter). Outside the image counts as "not masked" for growing and as
  "masked" for shrinking, so a mask that touches the image border still touches it afterwards.
* feather ``f > 0`` is a Gaussian blur with Pillow's ``ImageFilter.GaussianBlur(f)`` (``f`` is the
  standard deviation in px, the same meaning as AUTOMATIC1111's "mask blur").

Both operations are local: a pixel of the result depends only on the mask within
:func:`influence_margin` px of it. That lets :func:`effective_region` compute any sub-rectangle
exactly from a crop, which the canvas uses to refresh its preview only where a stroke changed.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from .geometry import PixelRect


def influence_margin(grow: int, feather: float) -> int:
    """How far (px) a mask change can move the effective mask."""
    blur = math.ceil(4.0 * feather) + 4 if feather > 0 else 0
    return abs(grow) + blur


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation (max filter) by a disc of ``radius`` px; outside the array counts as 0.

    Works row by row: a disc is a stack of horizontal runs, so the result is the max, over each
    row offset ``dy``, of a horizontal running max of half-width ``floor(sqrt(r² - dy²))``. The
    running maxima are built one width at a time (two ``np.maximum`` passes per step), so the cost
    is about ``4 * radius`` array passes and needs only two work arrays.
    """
    if radius <= 0:
        return mask.copy()
    height = mask.shape[0]
    rows_by_halfwidth: dict[int, list[int]] = {}
    for dy in range(radius + 1):
        half = math.isqrt(radius * radius - dy * dy)
        rows_by_halfwidth.setdefault(half, []).append(dy)
    out = np.zeros_like(mask)
    run = mask.copy()  # running max of half-width `half` along each row
    prev = np.empty_like(mask)
    for half in range(radius + 1):
        if half > 0:
            np.copyto(prev, run)
            np.maximum(run[:, 1:], prev[:, :-1], out=run[:, 1:])
            np.maximum(run[:, :-1], prev[:, 1:], out=run[:, :-1])
        for dy in rows_by_halfwidth.get(half, ()):
            if dy == 0:
                np.maximum(out, run, out=out)
            elif dy < height:
                np.maximum(out[dy:], run[:-dy], out=out[dy:])
                np.maximum(out[:-dy], run[dy:], out=out[:-dy])
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grey erosion (min filter) by a disc of ``radius`` px; outside the array counts as 255."""
    if radius <= 0:
        return mask.copy()
    return 255 - dilate(255 - mask, radius)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur with Pillow (standard deviation ``radius`` px); edges are extended."""
    if radius <= 0:
        return mask.copy()
    image = Image.fromarray(np.ascontiguousarray(mask), mode="L")
    return np.asarray(image.filter(ImageFilter.GaussianBlur(radius)), dtype=np.uint8).copy()


def grow_shrink(mask: np.ndarray, grow: int) -> np.ndarray:
    if grow > 0:
        return dilate(mask, grow)
    if grow < 0:
        return erode(mask, -grow)
    return mask.copy()


def _process(crop: np.ndarray, grow: int, feather_radius: float) -> np.ndarray:
    return feather(grow_shrink(crop, grow), feather_radius)


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
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return PixelRect(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def effective_mask(mask: np.ndarray, grow: int, feather_radius: float) -> np.ndarray:
    """``feather(grow_shrink(mask))`` for the whole mask, as a new HxW uint8 array.

    Only the nonzero bounding box plus the influence margin is processed: everything farther from
    a masked pixel is 0 whatever the options (growing and blurring zeros give zeros, shrinking
    never adds).
    """
    height, width = mask.shape
    out = np.zeros((height, width), dtype=np.uint8)
    bounds = nonzero_bounds(mask)
    if bounds is None:
        return out
    if grow == 0 and feather_radius <= 0:
        return mask.copy()
    rect = bounds.adjusted(influence_margin(grow, feather_radius) + 1).intersected(
        PixelRect.full(width, height)
    )
    rows, cols = rect.slices()
    out[rows, cols] = _process(mask[rows, cols], grow, feather_radius)
    return out
