"""Conversions between numpy/PIL pixels and QImage (copies: a QImage must own its memory).

numpy is imported inside the functions: they run in the worker thread, and the window should
not wait for numpy at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np


def rgb_array_to_qimage(pixels: np.ndarray) -> QImage:
    """An ``(h, w, 3)`` uint8 array → a QImage that owns a copy of the pixels."""
    import numpy as np

    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width, _ = pixels.shape
    image = QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()


def pil_to_qimage(image: Any) -> QImage:
    import numpy as np

    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.mode == "RGBA":
        pixels = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
        height, width, _ = pixels.shape
        return QImage(pixels.data, width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
    return rgb_array_to_qimage(np.asarray(image, dtype=np.uint8))


def qimage_to_rgb_array(image: QImage) -> np.ndarray:
    import numpy as np

    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = converted.width(), converted.height()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()
