"""The paint layer: colour strokes, eyedropper, shared undo with masks, sketch mask, crop box."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from sd21_desktop.engine.masks import dilate
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.ui.paint_canvas import PaintCanvas
from sd21_desktop.ui.region_panel import RegionPanel
from tests.ui.test_mask_canvas_support import capsule_mask, solid_image, stroke

GREY = QColor(100, 100, 100)


@pytest.fixture
def canvas(qtbot: object) -> PaintCanvas:
    canvas = PaintCanvas()
    qtbot.addWidget(canvas)  # type: ignore[attr-defined]
    canvas.resize(400, 300)
    canvas.show()
    canvas.set_image(solid_image(300, 200, GREY))
    canvas.set_view(1.0, QPointF(0.0, 0.0))
    return canvas


def paint(canvas: PaintCanvas, points: list[tuple[int, int]], colour: QColor) -> None:
    canvas.set_tool("paint")
    canvas.set_paint_colour(colour)
    stroke(canvas, points)


def test_a_colour_stroke_paints_the_layer_not_the_mask(canvas: PaintCanvas) -> None:
    canvas.set_brush_size(20)
    canvas.set_paint_opacity(0.5)
    paint(canvas, [(50, 100), (150, 100)], QColor(255, 0, 0))
    assert not canvas.mask_array().any()
    covered = capsule_mask((200, 300), (50.5, 100.5), (150.5, 100.5), 10.0) > 0
    composite = canvas.composite_array()
    # Half red over grey: (255 + 100) / 2, 100 / 2 ...
    assert tuple(composite[100, 100]) == (178, 50, 50)
    assert np.array_equal(composite[~covered], np.full(((~covered).sum(), 3), 100))
    assert canvas.paint_layer().pixels[..., 3][covered].min() == 128
    assert canvas.undo_stack().count() == 1


def test_the_eyedropper_picks_the_composite_colour_with_alt(canvas: PaintCanvas) -> None:
    canvas.set_brush_size(30)
    paint(canvas, [(60, 60)], QColor(0, 0, 255))
    canvas.set_paint_colour(QColor(1, 2, 3))
    QTest.mouseClick(
        canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, QPoint(60, 60)
    )
    assert canvas.paint_colour() == QColor(0, 0, 255)
    QTest.mouseClick(
        canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier, QPoint(250, 150)
    )
    assert canvas.paint_colour() == GREY
    assert canvas.undo_stack().count() == 1  # picking is not an edit


def test_paint_and_mask_strokes_undo_and_redo_interleaved(canvas: PaintCanvas) -> None:
    canvas.set_brush_size(16)
    states = [(canvas.mask_array(), canvas.paint_layer().pixels.copy())]

    def remember() -> None:
        states.append((canvas.mask_array(), canvas.paint_layer().pixels.copy()))

    canvas.set_tool("mask")
    stroke(canvas, [(30, 30), (90, 30)])
    remember()
    paint(canvas, [(30, 40), (90, 40)], QColor(0, 255, 0))
    remember()
    canvas.set_tool("mask")
    stroke(canvas, [(30, 150), (90, 150)])
    remember()
    paint(canvas, [(200, 100)], QColor(255, 255, 0))
    remember()
    assert canvas.undo_stack().count() == 4
    for index in range(4, 0, -1):
        canvas.undo()
        mask, layer = states[index - 1]
        assert np.array_equal(canvas.mask_array(), mask)
        assert np.array_equal(canvas.paint_layer().pixels, layer)
    for index in range(1, 5):
        canvas.redo()
        mask, layer = states[index]
        assert np.array_equal(canvas.mask_array(), mask)
        assert np.array_equal(canvas.paint_layer().pixels, layer)


def test_the_eraser_removes_paint_and_clear_and_hide_work(canvas: PaintCanvas) -> None:
    canvas.set_brush_size(20)
    paint(canvas, [(40, 100), (160, 100)], QColor(255, 0, 0))
    stroke(canvas, [(100, 100)], Qt.MouseButton.RightButton)  # the right button erases
    layer = canvas.paint_layer().pixels
    assert layer[100, 100, 3] == 0
    assert layer[100, 50, 3] == 255
    canvas.set_paint_visible(False)
    assert not canvas.has_paint()
    assert np.array_equal(canvas.composite_array(), np.full((200, 300, 3), 100))
    canvas.set_paint_visible(True)
    canvas.clear_paint()
    assert canvas.paint_layer().is_empty()
    canvas.undo()
    assert canvas.paint_layer().pixels[100, 50, 3] == 255


def test_pen_pressure_scales_the_colour_brush(canvas: PaintCanvas) -> None:
    from tests.ui.test_mask_canvas import _painted_height, _stylus, _tablet_stroke

    canvas.set_tool("paint")
    canvas.set_brush_size(40)
    _tablet_stroke(canvas, _stylus(with_pressure=True), y=50.0, pressure=1.0)
    _tablet_stroke(canvas, _stylus(with_pressure=True), y=150.0, pressure=0.25)
    alpha = canvas.paint_layer().pixels[..., 3]
    assert _painted_height(alpha, 100, 0, 100) == 40
    assert _painted_height(alpha, 100, 100, 200) == 10
    assert not canvas.mask_array().any()
    assert canvas.undo_stack().count() == 2


def test_inpaint_sketch_mask_is_the_strokes_grown_by_the_softness(canvas: PaintCanvas) -> None:
    canvas.set_brush_size(20)
    canvas.set_brush_hardness(0.5)
    paint(canvas, [(60, 60), (120, 60)], QColor(0, 0, 0))
    painted = np.where(canvas.paint_layer().pixels[..., 3] > 0, 255, 0).astype(np.uint8)
    assert np.array_equal(canvas.sketch_mask(), dilate(painted, 5))
    panel = RegionPanel(canvas)
    assert not panel.raw_mask().any()
    panel.sketch_mask.setChecked(True)
    assert np.array_equal(panel.raw_mask(), canvas.sketch_mask())


def test_the_crop_box_follows_the_mask_and_the_area(canvas: PaintCanvas) -> None:
    panel = RegionPanel(canvas)
    panel.padding.setValue(10)
    canvas.set_brush_size(10)
    stroke(canvas, [(100, 100)])
    panel.native_size = 512  # the 300x200 image is smaller: auto = whole
    panel.update_crop_box()
    assert canvas.crop_box() is None
    panel.area.setCurrentIndex(panel.area.findData("masked"))
    assert canvas.crop_box() == (85, 85, 116, 116)
    stroke(canvas, [(20, 20)])
    assert canvas.crop_box() == (5, 5, 116, 116)
    canvas.undo()
    assert canvas.crop_box() == (85, 85, 116, 116)


def test_a_result_replaces_the_image_keeping_the_mask_and_undo_brings_it_back(
    canvas: PaintCanvas,
) -> None:
    stroke(canvas, [(50, 50)])
    paint(canvas, [(150, 150)], QColor(255, 0, 0))
    before_mask, before_paint = canvas.mask_array(), canvas.paint_layer().pixels.copy()
    canvas.replace_image(solid_image(300, 200, QColor(10, 200, 30)))
    assert tuple(qimage_to_rgb_array(canvas.image())[0, 0]) == (10, 200, 30)  # type: ignore[arg-type]
    assert np.array_equal(canvas.mask_array(), before_mask)
    assert canvas.paint_layer().is_empty()
    canvas.undo()
    assert tuple(qimage_to_rgb_array(canvas.image())[0, 0]) == (100, 100, 100)  # type: ignore[arg-type]
    assert np.array_equal(canvas.paint_layer().pixels, before_paint)
    canvas.redo()
    assert tuple(qimage_to_rgb_array(canvas.image())[0, 0]) == (10, 200, 30)  # type: ignore[arg-type]


def test_the_paint_layer_saves_as_straight_alpha_rgba(canvas: PaintCanvas) -> None:
    canvas.set_brush_size(20)
    canvas.set_paint_opacity(0.5)
    paint(canvas, [(60, 60)], QColor(200, 100, 0))
    saved = np.asarray(RegionPanel(canvas).paint_image())
    assert saved.shape == (200, 300, 4)
    # Premultiplied 8-bit storage: the colour comes back within one level.
    assert np.abs(saved[60, 60].astype(int) - (200, 100, 0, 128)).max() <= 1
    assert saved[150, 250, 3] == 0
