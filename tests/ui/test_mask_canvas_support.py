"""Shared helpers for the mask canvas tests (no tests here)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from sd21_desktop.ui.mask_canvas import MaskCanvas


def solid_image(width: int, height: int, color: QColor | None = None) -> QImage:
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(color if color is not None else QColor(0, 0, 0))
    return image


def make_canvas(qtbot: object, image_size: tuple[int, int] = (300, 200)) -> MaskCanvas:
    """A shown 400x300 canvas with a black image at zoom 1, image origin at the widget origin."""
    canvas = MaskCanvas()
    qtbot.addWidget(canvas)  # type: ignore[attr-defined]
    canvas.resize(400, 300)
    canvas.show()
    canvas.set_image(solid_image(*image_size))
    canvas.set_view(1.0, QPointF(0.0, 0.0))
    return canvas


def stroke(
    canvas: MaskCanvas,
    points: list[tuple[int, int]],
    button: Qt.MouseButton = Qt.MouseButton.LeftButton,
) -> None:
    """Press at the first point, move through the rest, release at the last (QTest events)."""
    modifiers = Qt.KeyboardModifier.NoModifier
    QTest.mousePress(canvas, button, modifiers, QPoint(*points[0]))
    for x, y in points[1:]:
        QTest.mouseMove(canvas, QPoint(x, y))
    QTest.mouseRelease(canvas, button, modifiers, QPoint(*points[-1]))


def capsule_mask(
    shape: tuple[int, int], a: tuple[float, float], b: tuple[float, float], radius: float
) -> np.ndarray:
    """Reference: pixels whose centre lies within ``radius`` of the segment a-b (0/255)."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    length_sq = dx * dx + dy * dy
    if length_sq == 0:
        t = np.zeros_like(xs)
    else:
        t = np.clip(((xs - ax) * dx + (ys - ay) * dy) / length_sq, 0.0, 1.0)
    dist = np.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
    return np.where(dist <= radius, 255, 0).astype(np.uint8)
