"""Mask post-processing shared by the engine and the mask canvas (numpy + Pillow, no Qt).

The effective mask (what a pipeline receives, and what the result is pasted back through) is
``feather(grow_shrink(mask))``:

* grow ``n > 0`` dilates by a disc of radius ``n`` px (max filter), shrink ``n < 0`` erodes by a
  disc of radius ``-n`` (min filter). Outside the image counts as "not masked" for growing and as
  "masked" for shrinking, so a mask that touches the image border still touches it afterwards.
* feather ``f > 0`` is a Gaussian blur with Pillow's ``ImageFilter.GaussianBlur(f)`` (``f`` is the
  standard deviation in px, the same meaning as AUTOMATIC1111's "mask blur").

Both operations are local: a pixel of the result depends only on the mask within
:func:`influence_margin` px of it, so a sub-rectangle can be computed exactly from a crop (the
canvas does that to refresh its preview only where a stroke changed).

Masks are HxW ``uint8`` arrays: 0 = keep, 255 = repaint, values between blend.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter


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
    """Dilate by ``grow`` px when positive, erode by ``-grow`` px when negative."""
    if grow > 0:
        return dilate(mask, grow)
    if grow < 0:
        return erode(mask, -grow)
    return mask.copy()


def process(crop: np.ndarray, grow: int, feather_radius: float) -> np.ndarray:
    """``feather(grow_shrink(crop))`` of a whole array (borders as the whole image's)."""
    return feather(grow_shrink(crop, grow), feather_radius)


def nonzero_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)``, the half-open bounding box of the nonzero pixels; None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def effective_mask(mask: np.ndarray, grow: int, feather_radius: float) -> np.ndarray:
    """``feather(grow_shrink(mask))`` for the whole mask, as a new HxW uint8 array.

    Only the nonzero bounding box plus the influence margin is processed: everything farther from
    a masked pixel is 0 whatever the options (growing and blurring zeros give zeros, shrinking
    never adds).
    """
    height, width = mask.shape
    out = np.zeros((height, width), dtype=np.uint8)
    box = nonzero_box(mask)
    if box is None:
        return out
    if grow == 0 and feather_radius <= 0:
        return mask.copy()
    margin = influence_margin(grow, feather_radius) + 1
    x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
    x1, y1 = min(width, box[2] + margin), min(height, box[3] + margin)
    out[y0:y1, x0:x1] = process(mask[y0:y1, x0:x1], grow, feather_radius)
    return out


def paste_through_mask(original: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``original`` where the mask is 0, ``generated`` where it is 255, blended in between.

    All uint8 (HxWx3 images, HxW mask); exact integer arithmetic, so a pixel whose mask is 0 is
    the original pixel bit for bit (and one whose mask is 255 is the generated one).
    """
    if original.shape != generated.shape or original.shape[:2] != mask.shape:
        raise ValueError(
            f"shapes differ: original {original.shape}, generated {generated.shape}, "
            f"mask {mask.shape}"
        )
    weight = mask.astype(np.uint32)[..., None]
    mixed = original.astype(np.uint32) * (255 - weight) + generated.astype(np.uint32) * weight
    return ((mixed + 127) // 255).astype(np.uint8)
