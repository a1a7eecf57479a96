"""The cached, translucent mask overlay: an ARGB32-premultiplied QImage kept in step with a mask.

The overlay pixels live in a numpy ``uint32`` array that a QImage wraps without copying; a
256-entry lookup table maps each mask value to a premultiplied colour, so refreshing a dirty
rectangle is one numpy gather over that rectangle, and painting is one ``drawImage`` of the exposed
part. Changing the colour or opacity rebuilds the table and the whole overlay once.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage

from .geometry import PixelRect


def overlay_lut(color: QColor, opacity: float) -> np.ndarray:
    """Premultiplied ARGB32 values (as native-endian uint32) for mask values 0..255."""
    values = np.arange(256, dtype=np.float64) / 255.0
    alpha = values * max(0.0, min(1.0, opacity)) * (color.alphaF())
    a = np.rint(alpha * 255.0).astype(np.uint32)
    r = np.rint(color.redF() * alpha * 255.0).astype(np.uint32)
    g = np.rint(color.greenF() * alpha * 255.0).astype(np.uint32)
    b = np.rint(color.blueF() * alpha * 255.0).astype(np.uint32)
    return np.asarray((a << 24) | (r << 16) | (g << 8) | b, dtype=np.uint32)


class OverlayCache:
    """An overlay image the size of the mask; :meth:`refresh` recolours a rectangle of it."""

    def __init__(self, width: int, height: int, color: QColor, opacity: float) -> None:
        self._pixels = np.zeros((height, width), dtype=np.uint32)
        self._image = QImage(
            self._pixels.data, width, height, width * 4, QImage.Format.Format_ARGB32_Premultiplied
        )
        self._lut = overlay_lut(color, opacity)

    @property
    def image(self) -> QImage:
        """The overlay; it shares memory with the cache, so draw it, don't keep it."""
        return self._image

    def set_style(self, color: QColor, opacity: float, source: np.ndarray) -> None:
        self._lut = overlay_lut(color, opacity)
        self.refresh(source, PixelRect.full(source.shape[1], source.shape[0]))

    def refresh(
        self, source: np.ndarray, rect: PixelRect, values: np.ndarray | None = None
    ) -> None:
        """Recolour ``rect`` from ``source[rect]`` (or from ``values``, already cut to ``rect``)."""
        rows, cols = rect.slices()
        region = source[rows, cols] if values is None else values
        self._pixels[rows, cols] = self._lut[region]
