"""Zoom and pan state of the canvas (Qt-free): widget point = image point * zoom + offset."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .geometry import PixelRect

MIN_ZOOM = 1.0 / 32.0
MAX_ZOOM = 64.0
WHEEL_STEP = 1.25
"""Zoom factor for one wheel notch (120 eighths of a degree)."""


@dataclass
class ViewTransform:
    zoom: float = 1.0
    offset_x: float = 0.0
    offset_y: float = 0.0

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.offset_x) / self.zoom, (y - self.offset_y) / self.zoom

    def to_widget(self, x: float, y: float) -> tuple[float, float]:
        return x * self.zoom + self.offset_x, y * self.zoom + self.offset_y

    def zoom_at(self, anchor_x: float, anchor_y: float, zoom: float) -> None:
        """Set the zoom, keeping the image point under the widget point ``anchor`` fixed."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        image_x, image_y = self.to_image(anchor_x, anchor_y)
        self.zoom = zoom
        self.offset_x = anchor_x - image_x * zoom
        self.offset_y = anchor_y - image_y * zoom

    def pan(self, dx: float, dy: float) -> None:
        self.offset_x += dx
        self.offset_y += dy

    def fit(
        self,
        view_width: int,
        view_height: int,
        image_width: int,
        image_height: int,
        margin: int = 8,
    ) -> None:
        """Show the whole image centred, never enlarged beyond 100 %."""
        if image_width <= 0 or image_height <= 0:
            self.zoom, self.offset_x, self.offset_y = 1.0, 0.0, 0.0
            return
        room_w = max(1, view_width - 2 * margin)
        room_h = max(1, view_height - 2 * margin)
        self.zoom = max(MIN_ZOOM, min(1.0, room_w / image_width, room_h / image_height))
        # Whole-pixel offsets keep 100 % views a plain copy (no resampling).
        self.offset_x = float(round((view_width - image_width * self.zoom) / 2))
        self.offset_y = float(round((view_height - image_height * self.zoom) / 2))

    def image_rect_to_widget(self, rect: PixelRect, margin: int = 1) -> tuple[int, int, int, int]:
        """The widget-pixel box ``(x, y, w, h)`` covering an image box, plus ``margin``."""
        left, top = self.to_widget(rect.x0, rect.y0)
        right, bottom = self.to_widget(rect.x1, rect.y1)
        x0 = math.floor(left) - margin
        y0 = math.floor(top) - margin
        return x0, y0, math.ceil(right) + margin - x0, math.ceil(bottom) + margin - y0

    def widget_rect_to_image(self, x: int, y: int, w: int, h: int) -> PixelRect:
        """The image pixels that show inside a widget box (not clipped to the image)."""
        left, top = self.to_image(x, y)
        right, bottom = self.to_image(x + w, y + h)
        return PixelRect.from_float_bounds(left, top, right, bottom)
