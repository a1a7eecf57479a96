"""The colour layer painted above the canvas image (sketch and inpaint sketch).

The layer is an HxWx4 ``uint8`` array of *premultiplied* RGBA, shown through a ``QImage`` that
wraps the same memory (no copy per repaint). A stroke rasterises its coverage with the mask brush
(:func:`~.brush.paint_segment`, max compositing, so a stroke crossing itself does not darken) and
composites the colour at ``coverage x opacity`` over the layer as it was when the stroke began;
the eraser scales the layer down by the same amount. Only the touched rectangles are recomputed.

:func:`composite` flattens image + layer (what sketch sends as the init image),
:func:`sketch_mask` turns the strokes into an inpainting mask, grown by the brush's softness.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtGui import QColor, QImage

from sd21_desktop.engine.masks import dilate

from .brush import BrushSample, paint_segment
from .geometry import PixelRect


class PaintLayer:
    """Premultiplied RGBA pixels the size of the image, with stroke painting."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels = np.zeros((height, width, 4), dtype=np.uint8)
        self.image = QImage(
            self.pixels.data, width, height, 4 * width, QImage.Format.Format_RGBA8888_Premultiplied
        )
        self.visible = True
        self._before: np.ndarray | None = None
        self._coverage: np.ndarray | None = None
        self._colour = np.zeros(4, dtype=np.float32)
        self._opacity = 1.0
        self._erase = False

    def mask_buffer(self) -> np.ndarray:
        """The live pixels (the undo commands' name for the edited buffer)."""
        return self.pixels

    def is_empty(self) -> bool:
        return not bool(self.pixels[..., 3].any())

    # -- strokes ----------------------------------------------------------------------------
    def begin(self, colour: QColor, opacity: float, erase: bool) -> None:
        self._before = self.pixels.copy()
        self._coverage = np.zeros(self.pixels.shape[:2], dtype=np.uint8)
        self._colour = np.array(
            [colour.red(), colour.green(), colour.blue(), 255], dtype=np.float32
        )
        self._opacity = max(0.0, min(1.0, opacity))
        self._erase = erase

    def segment(self, a: BrushSample, b: BrushSample, hardness: float) -> list[PixelRect]:
        """Paint the capsule ``a``-``b`` of the current stroke; the rectangles it changed."""
        assert self._coverage is not None
        assert self._before is not None
        boxes = paint_segment(self._coverage, a, b, hardness=hardness)
        for box in boxes:
            rows, cols = box.slices()
            alpha = self._coverage[rows, cols, None].astype(np.float32) * (self._opacity / 255)
            before = self._before[rows, cols].astype(np.float32)
            if self._erase:
                mixed = before * (1.0 - alpha)
            else:
                mixed = self._colour * alpha + before * (1.0 - alpha)
            self.pixels[rows, cols] = np.rint(mixed).astype(np.uint8)
        return boxes

    def end(self) -> np.ndarray | None:
        """Finish the stroke; the layer as it was before it (for the undo command)."""
        before, self._before, self._coverage = self._before, None, None
        return before

    # -- reading ----------------------------------------------------------------------------
    def colour_at(self, image_rgb: np.ndarray, x: int, y: int) -> QColor:
        """The composite colour (image under layer) at one pixel: the eyedropper."""
        pixel = composite_pixels(image_rgb[y : y + 1, x : x + 1], self.pixels[y : y + 1, x : x + 1])
        red, green, blue = (int(v) for v in pixel[0, 0])
        return QColor(red, green, blue)


def composite_pixels(image_rgb: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Premultiplied ``layer`` over an RGB image (uint8 arrays of the same height and width)."""
    alpha = layer[..., 3:4].astype(np.uint32)
    mixed = layer[..., :3].astype(np.uint32) * 255 + image_rgb.astype(np.uint32) * (255 - alpha)
    return ((mixed + 127) // 255).astype(np.uint8)


def composite(image_rgb: np.ndarray, layer: PaintLayer) -> np.ndarray:
    """The image with the layer flattened onto it (the layer counts only when visible)."""
    if not layer.visible or layer.is_empty():
        return image_rgb.copy()
    return composite_pixels(image_rgb, layer.pixels)


def sketch_mask(layer: PaintLayer, brush_size: int, hardness: float) -> np.ndarray:
    """Inpaint sketch: every painted pixel, grown by the soft part of the brush's radius."""
    painted = np.where(layer.pixels[..., 3] > 0, 255, 0).astype(np.uint8)
    soft = math.ceil(brush_size / 2.0 * (1.0 - max(0.0, min(1.0, hardness))))
    return dilate(painted, soft) if soft > 0 else painted
