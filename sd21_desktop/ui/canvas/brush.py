"""The round mask brush: dab and segment rasterisation with numpy (Qt-free).

A stroke is a chain of segments between pointer samples. Each segment is drawn as a "capsule" (the
union of discs along the segment, the radius interpolated between the two ends so pen pressure
varies smoothly), so there are no gaps between dabs however fast the pointer moves.

Coverage per pixel comes from the distance ``d`` of the pixel centre ``(x + 0.5, y + 0.5)`` to the
segment, relative to the radius ``r``: 1 inside ``hardness * r``, 0 beyond ``r``, a smoothstep in
between. With hardness 1 the coverage is exactly 0 or 1, so a hard brush paints only 0 and 255.

Painting composites with ``max`` (erasing with ``min``), so going over the same place twice in one
or many strokes never makes a soft edge darker than one pass of the brush would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .geometry import PixelRect

MIN_RADIUS = 0.5
"""The smallest radius painted, in image pixels: a 1 px brush always paints the pixel under it."""


@dataclass(frozen=True)
class BrushSample:
    """One pointer sample in image coordinates; ``radius`` already includes pen pressure."""

    x: float
    y: float
    radius: float


def coverage(distance: np.ndarray, radius: np.ndarray | float, hardness: float) -> np.ndarray:
    """Brush coverage in [0, 1] (float32) for distances from the stroke's centre line."""
    u = distance / np.maximum(radius, MIN_RADIUS)
    if hardness >= 1.0:
        return (u <= 1.0).astype(np.float32)
    inner = max(0.0, hardness)
    t = np.clip((u - inner) / (1.0 - inner), 0.0, 1.0)
    return (1.0 - t * t * (3.0 - 2.0 * t)).astype(np.float32)


def segment_bounds(a: BrushSample, b: BrushSample) -> tuple[float, float, float, float]:
    """Float box ``(left, top, right, bottom)`` holding the capsule from ``a`` to ``b``."""
    ra = max(a.radius, MIN_RADIUS)
    rb = max(b.radius, MIN_RADIUS)
    return (
        min(a.x - ra, b.x - rb),
        min(a.y - ra, b.y - rb),
        max(a.x + ra, b.x + rb),
        max(a.y + ra, b.y + rb),
    )


def paint_segment(
    mask: np.ndarray,
    a: BrushSample,
    b: BrushSample,
    *,
    hardness: float,
    erase: bool = False,
) -> list[PixelRect]:
    """Paint (or erase) the capsule from ``a`` to ``b`` into ``mask`` (HxW uint8) in place.

    Returns the pixel boxes that were touched (empty when the capsule misses the mask). ``a == b``
    paints one round dab. A long segment is cut into pieces about one brush diameter long, so the
    work (and the screen area to refresh) follows the stroke instead of its bounding box; with
    max/min compositing the pieces give exactly the same pixels as the whole capsule would.
    """
    length = math.hypot(b.x - a.x, b.y - a.y)
    piece = max(8.0, 2.0 * max(a.radius, b.radius, MIN_RADIUS))
    count = max(1, math.ceil(length / piece))
    boxes = []
    start = a
    for index in range(1, count + 1):
        t = index / count
        end = (
            b
            if index == count
            else BrushSample(
                a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.radius + (b.radius - a.radius) * t
            )
        )
        box = _paint_capsule(mask, start, end, hardness=hardness, erase=erase)
        if box is not None:
            boxes.append(box)
        start = end
    return boxes


def _paint_capsule(
    mask: np.ndarray,
    a: BrushSample,
    b: BrushSample,
    *,
    hardness: float,
    erase: bool,
) -> PixelRect | None:
    height, width = mask.shape
    box = PixelRect.from_float_bounds(*segment_bounds(a, b)).intersected(
        PixelRect.full(width, height)
    )
    if box.is_empty():
        return None
    # Pixel centres of the box, relative to the segment start.
    xs = np.arange(box.x0, box.x1, dtype=np.float32) + np.float32(0.5 - a.x)
    ys = np.arange(box.y0, box.y1, dtype=np.float32) + np.float32(0.5 - a.y)
    px = xs[np.newaxis, :]
    py = ys[:, np.newaxis]
    dx = b.x - a.x
    dy = b.y - a.y
    length_sq = dx * dx + dy * dy
    radius: np.ndarray | float = a.radius
    if length_sq < 1e-12:
        dist = np.sqrt(px * px + py * py)
    else:
        t = np.clip((px * np.float32(dx) + py * np.float32(dy)) / np.float32(length_sq), 0.0, 1.0)
        ex = px - t * np.float32(dx)
        ey = py - t * np.float32(dy)
        dist = np.sqrt(ex * ex + ey * ey)
        if a.radius != b.radius:
            radius = a.radius + t * np.float32(b.radius - a.radius)
    cover = coverage(dist, radius, hardness)
    rows, cols = box.slices()
    target = mask[rows, cols]
    if erase:
        np.minimum(target, np.rint(255.0 - cover * 255.0).astype(np.uint8), out=target)
    else:
        np.maximum(target, np.rint(cover * 255.0).astype(np.uint8), out=target)
    return box


def step_size(size: int, up: bool) -> int:
    """The next brush size for the ``]`` (up) and ``[`` (down) keys: about 15 %, at least 1 px."""
    if up:
        return max(size + 1, math.floor(size * 1.15 + 0.5))
    return max(1, min(size - 1, math.floor(size / 1.15 + 0.5)))
