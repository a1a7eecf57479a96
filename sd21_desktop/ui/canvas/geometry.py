"""Integer pixel rectangles in image coordinates (half-open, Qt-free)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PixelRect:
    """The half-open pixel box ``[x0, x1) x [y0, y1)``; empty when either side is <= 0."""

    x0: int
    y0: int
    x1: int
    y1: int

    @classmethod
    def from_float_bounds(cls, left: float, top: float, right: float, bottom: float) -> PixelRect:
        """The smallest pixel box holding every pixel whose area meets the given float box."""
        return cls(math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom))

    @classmethod
    def full(cls, width: int, height: int) -> PixelRect:
        return cls(0, 0, width, height)

    @property
    def width(self) -> int:
        return max(0, self.x1 - self.x0)

    @property
    def height(self) -> int:
        return max(0, self.y1 - self.y0)

    @property
    def area(self) -> int:
        return self.width * self.height

    def is_empty(self) -> bool:
        return self.width == 0 or self.height == 0

    def union(self, other: PixelRect | None) -> PixelRect:
        if other is None or other.is_empty():
            return self
        if self.is_empty():
            return other
        return PixelRect(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )

    def intersected(self, other: PixelRect) -> PixelRect:
        return PixelRect(
            max(self.x0, other.x0),
            max(self.y0, other.y0),
            min(self.x1, other.x1),
            min(self.y1, other.y1),
        )

    def adjusted(self, margin: int) -> PixelRect:
        """The box grown by ``margin`` pixels on every side (shrunk when negative)."""
        return PixelRect(self.x0 - margin, self.y0 - margin, self.x1 + margin, self.y1 + margin)

    def translated(self, dx: int, dy: int) -> PixelRect:
        return PixelRect(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def slices(self) -> tuple[slice, slice]:
        """``(rows, columns)`` slices to index a HxW numpy array."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)
