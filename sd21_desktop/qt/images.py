"""Conversions between numpy/PIL pixels and QImage (copies: a QImage must own its memory)."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtGui import QImage


def rgb_array_to_qimage(pixels: np.ndarray) -> QImage:
    """An ``(h, w, 3)`` uint8 array → a QImage that owns a copy of the pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, _ = pixels.shape
    image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


def pil_to_qimage(image: Any) -> QImage:
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.mode == "RGBA":
        pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
        height, width, _ = pixels.shape
        return QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
    return rgb_array_to_qimage(np.asarray(image, dtype=np.uint8))


def qimage_to_rgb_array(image: QImage) -> np.ndarray:
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = converted.width(), converted.height()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()
