"""MaskCanvas painting, tablet pressure, undo/redo, view and keyboard behaviour (offscreen)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import (
    QColor,
    QInputDevice,
    QPointingDevice,
    QTabletEvent,
    QWheelEvent,
)
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from sd21_desktop.ui.mask_canvas import MaskCanvas
from tests.ui.test_mask_canvas_support import capsule_mask, make_canvas, solid_image, stroke

NO_MODIFIER = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def canvas(qtbot: object) -> MaskCanvas:
    return make_canvas(qtbot)


def test_identity_for_styles_and_accessibility(canvas: MaskCanvas) -> None:
    assert canvas.objectName() == "maskCanvas"
    assert canvas.accessibleName()
    assert canvas.focusPolicy() == Qt.FocusPolicy.StrongFocus


def test_mask_matches_image_size(canvas: MaskCanvas) -> None:
    mask = canvas.mask_array()
    assert mask.shape == (200, 300)
    assert mask.dtype == np.uint8
    assert not mask.any()
    image = canvas.mask_image()
    assert image.format() == image.Format.Format_Grayscale8
    assert (image.width(), image.height()) == (300, 200)


def test_horizontal_stroke_covers_expected_pixels(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(20)
    stroke(canvas, [(50, 100), (80, 100), (110, 100), (150, 100)])

    mask = canvas.mask_array()
    # A mouse position names a widget pixel; at zoom 1 the brush centre is that pixel's centre.
    expected = capsule_mask(mask.shape, (50.5, 100.5), (150.5, 100.5), radius=10.0)
    np.testing.assert_array_equal(mask, expected)
    assert set(np.unique(mask)) == {0, 255}  # hard brush: no in-between values
    # Spelled out: the centre line and 10 px either side are painted, nothing beyond.
    assert mask[100, 50:151].all()
    assert mask[90:111, 100].all()
    assert mask[89, 100] == 0
    assert mask[111, 100] == 0
    assert mask[100, 39] == 0
    assert mask[100, 161] == 0
    assert not mask[:, 200:].any()
    assert not mask[:80].any()


def test_click_paints_one_round_dab(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(9)
    stroke(canvas, [(120, 60)])
    mask = canvas.mask_array()
    np.testing.assert_array_equal(mask, capsule_mask(mask.shape, (120.5, 60.5), (120.5, 60.5), 4.5))


def test_one_pixel_brush_paints_the_pixel_under_the_pointer(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(1)
    stroke(canvas, [(10, 20)])
    assert np.argwhere(canvas.mask_array()).tolist() == [[20, 10]]


def test_stroke_respects_zoom_and_offset(canvas: MaskCanvas) -> None:
    canvas.set_view(2.0, QPointF(10.0, 20.0))
    canvas.set_brush_size(10)
    stroke(canvas, [(110, 120), (210, 120)])  # image (50, 50) -> (100, 50), plus half a px / 2
    mask = canvas.mask_array()
    assert mask[50, 50:100].all()
    assert mask[45:55, 75].all()
    assert mask[44, 75] == 0
    assert mask[56, 75] == 0


def test_stroke_is_one_undo_step_and_one_mask_changed(canvas: MaskCanvas) -> None:
    changes: list[None] = []
    canvas.mask_changed.connect(lambda: changes.append(None))
    stroke(canvas, [(20, 20), (40, 30), (60, 40), (80, 50)])
    assert canvas.undo_stack().count() == 1
    assert len(changes) == 1


def test_erase_mode_removes_mask(canvas: MaskCanvas) -> None:
    canvas.fill_mask()
    canvas.set_brush_size(10)
    canvas.set_erase_mode(True)
    stroke(canvas, [(100, 100), (200, 100)])
    mask = canvas.mask_array()
    assert mask[100, 100:201].max() == 0
    assert mask[150, 150] == 255
    assert mask[0, 0] == 255


def test_right_button_erases_without_switching_mode(canvas: MaskCanvas) -> None:
    canvas.fill_mask()
    canvas.set_brush_size(10)
    stroke(canvas, [(100, 100), (140, 100)], button=Qt.MouseButton.RightButton)
    assert canvas.mask_array()[100, 120] == 0
    assert not canvas.erase_mode()


def test_soft_brush_edge_falls_off(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(40)
    canvas.set_brush_hardness(0.0)
    stroke(canvas, [(150, 100)])
    row = canvas.mask_array()[100, 150:175].astype(int)
    assert row[0] == 255
    assert 0 < row[10] < 255
    assert row[21] == 0
    assert all(a >= b for a, b in zip(row, row[1:], strict=False))  # decreasing from the centre


def test_soft_strokes_do_not_build_up(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(30)
    canvas.set_brush_hardness(0.2)
    stroke(canvas, [(150, 100)])
    once = canvas.mask_array()
    for _ in range(3):
        stroke(canvas, [(150, 100)])
    np.testing.assert_array_equal(canvas.mask_array(), once)


def _stylus(with_pressure: bool) -> QPointingDevice:
    capabilities = QInputDevice.Capability.Position
    if with_pressure:
        capabilities |= QInputDevice.Capability.Pressure
    return QPointingDevice(
        "test stylus",
        4242 if with_pressure else 4243,
        QInputDevice.DeviceType.Stylus,
        QPointingDevice.PointerType.Pen,
        capabilities,
        1,
        3,
    )


def _tablet(
    canvas: MaskCanvas,
    device: QPointingDevice,
    kind: QEvent.Type,
    pos: QPointF,
    pressure: float,
) -> None:
    pressed = kind != QEvent.Type.TabletRelease
    event = QTabletEvent(
        kind,
        device,
        pos,
        QPointF(canvas.mapToGlobal(pos)),
        pressure,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        NO_MODIFIER,
        Qt.MouseButton.LeftButton if kind != QEvent.Type.TabletMove else Qt.MouseButton.NoButton,
        Qt.MouseButton.LeftButton if pressed else Qt.MouseButton.NoButton,
    )
    QApplication.sendEvent(canvas, event)


def _tablet_stroke(canvas: MaskCanvas, device: QPointingDevice, y: float, pressure: float) -> None:
    _tablet(canvas, device, QEvent.Type.TabletPress, QPointF(50.0, y), pressure)
    for x in (80.0, 110.0, 140.0):
        _tablet(canvas, device, QEvent.Type.TabletMove, QPointF(x, y), pressure)
    _tablet(canvas, device, QEvent.Type.TabletRelease, QPointF(150.0, y), pressure)


def _painted_height(mask: np.ndarray, x: int, y0: int, y1: int) -> int:
    return int(np.count_nonzero(mask[y0:y1, x]))


def test_tablet_pressure_scales_brush(canvas: MaskCanvas) -> None:
    device = _stylus(with_pressure=True)
    canvas.set_brush_size(40)
    _tablet_stroke(canvas, device, y=50.0, pressure=1.0)
    _tablet_stroke(canvas, device, y=150.0, pressure=0.25)
    mask = canvas.mask_array()
    # Pen positions are sub-pixel: centre line at y = 50.0 exactly, radius 20 * pressure.
    assert _painted_height(mask, 100, 0, 100) == 40
    assert _painted_height(mask, 100, 100, 200) == 10
    assert canvas.undo_stack().count() == 2


def test_pressure_ramp_within_one_stroke(canvas: MaskCanvas) -> None:
    device = _stylus(with_pressure=True)
    canvas.set_brush_size(40)
    _tablet(canvas, device, QEvent.Type.TabletPress, QPointF(40.0, 100.0), 0.1)
    _tablet(canvas, device, QEvent.Type.TabletMove, QPointF(240.0, 100.0), 1.0)
    _tablet(canvas, device, QEvent.Type.TabletRelease, QPointF(240.0, 100.0), 1.0)
    mask = canvas.mask_array()
    heights = [_painted_height(mask, x, 0, 200) for x in (60, 140, 220)]
    assert heights[0] < heights[1] < heights[2]


def test_tablet_without_pressure_uses_full_size(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(20)
    _tablet_stroke(canvas, _stylus(with_pressure=False), y=100.0, pressure=0.1)
    assert _painted_height(canvas.mask_array(), 100, 0, 200) == 20


def test_undo_redo_restore_exact_masks(canvas: MaskCanvas) -> None:
    snapshots = [canvas.mask_array()]
    canvas.set_brush_size(25)
    canvas.set_brush_hardness(0.5)
    stroke(canvas, [(30, 30), (120, 90), (200, 40)])
    snapshots.append(canvas.mask_array())
    canvas.set_brush_hardness(1.0)
    stroke(canvas, [(100, 150), (100, 20)])
    snapshots.append(canvas.mask_array())
    canvas.set_erase_mode(True)
    stroke(canvas, [(10, 60), (290, 60)])
    snapshots.append(canvas.mask_array())
    canvas.invert_mask()
    snapshots.append(canvas.mask_array())

    for expected in reversed(snapshots[:-1]):
        canvas.undo()
        np.testing.assert_array_equal(canvas.mask_array(), expected)
    assert not canvas.undo_stack().canUndo()
    for expected in snapshots[1:]:
        canvas.redo()
        np.testing.assert_array_equal(canvas.mask_array(), expected)


def test_undo_stores_only_the_changed_rectangle(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(10)
    stroke(canvas, [(100, 100), (120, 100)])
    command = canvas.undo_stack().command(0)
    rect = command.rect  # type: ignore[attr-defined]
    assert (rect.x0, rect.y0, rect.x1, rect.y1) == (95, 95, 126, 106)


def test_fill_clear_invert(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(10)
    stroke(canvas, [(50, 50)])
    painted = canvas.mask_array()

    canvas.invert_mask()
    np.testing.assert_array_equal(canvas.mask_array(), 255 - painted)
    canvas.fill_mask()
    assert (canvas.mask_array() == 255).all()
    canvas.clear_mask()
    assert not canvas.mask_array().any()
    assert canvas.undo_stack().count() == 4
    assert [canvas.undo_stack().text(i) for i in range(4)] == [
        "Paint",
        "Invert mask",
        "Fill mask",
        "Clear mask",
    ]
    canvas.undo()
    assert (canvas.mask_array() == 255).all()
    canvas.undo()
    np.testing.assert_array_equal(canvas.mask_array(), 255 - painted)
    canvas.undo()
    np.testing.assert_array_equal(canvas.mask_array(), painted)


def test_clear_on_empty_mask_adds_no_undo_step(canvas: MaskCanvas) -> None:
    canvas.clear_mask()
    assert canvas.undo_stack().count() == 0


def test_set_mask_array_round_trip_and_validation(canvas: MaskCanvas) -> None:
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 256, size=(200, 300), dtype=np.uint8)
    canvas.set_mask_array(mask)
    np.testing.assert_array_equal(canvas.mask_array(), mask)
    canvas.set_mask_array(mask > 128)
    np.testing.assert_array_equal(canvas.mask_array(), np.where(mask > 128, 255, 0))
    canvas.undo()
    np.testing.assert_array_equal(canvas.mask_array(), mask)
    with pytest.raises(ValueError, match="shape"):
        canvas.set_mask_array(np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        canvas.set_mask_array(np.zeros((200, 300), dtype=np.float32))
    # the returned array is a copy
    canvas.mask_array()[:] = 7
    np.testing.assert_array_equal(canvas.mask_array(), mask)


def test_set_mask_image_accepts_greyscale_images(canvas: MaskCanvas) -> None:
    rng = np.random.default_rng(2)
    mask = rng.integers(0, 256, size=(200, 300), dtype=np.uint8)
    canvas.set_mask_array(mask)
    image = canvas.mask_image()
    canvas.clear_mask()
    canvas.set_mask_image(image)
    np.testing.assert_array_equal(canvas.mask_array(), mask)


def test_new_image_resets_mask_and_history(canvas: MaskCanvas) -> None:
    images: list[None] = []
    canvas.image_changed.connect(lambda: images.append(None))
    stroke(canvas, [(50, 50)])
    canvas.set_image(solid_image(64, 48))
    assert images == [None]
    assert canvas.mask_array().shape == (48, 64)
    assert not canvas.mask_array().any()
    assert canvas.undo_stack().count() == 0


def test_same_size_image_can_keep_mask(canvas: MaskCanvas) -> None:
    stroke(canvas, [(50, 50)])
    painted = canvas.mask_array()
    canvas.set_image(solid_image(300, 200, QColor(9, 9, 9)), keep_mask=True)
    np.testing.assert_array_equal(canvas.mask_array(), painted)
    assert canvas.undo_stack().count() == 1


def test_memory_of_200_strokes_on_2048_image_stays_bounded(qtbot: object) -> None:
    canvas = MaskCanvas()
    qtbot.addWidget(canvas)  # type: ignore[attr-defined]
    canvas.resize(512, 512)
    canvas.show()
    canvas.set_image(solid_image(2048, 2048))
    canvas.set_view(0.25, QPointF(0.0, 0.0))  # whole image in 512 x 512
    changes: list[None] = []
    canvas.mask_changed.connect(lambda: changes.append(None))
    rng = np.random.default_rng(7)
    for index in range(200):
        canvas.set_brush_size(int(rng.integers(8, 120)))
        canvas.set_erase_mode(index % 5 == 4)
        if index % 10 == 0:  # worst case for a bounding box: corner to corner
            points = [(0, 0), (170, 170), (340, 340), (511, 511)]
        else:  # a scribble a few hundred image px long somewhere
            start = rng.integers(0, 512, size=2)
            walk = np.clip(start + np.cumsum(rng.integers(-25, 26, size=(5, 2)), axis=0), 0, 511)
            points = [(int(x), int(y)) for x, y in walk]
        stroke(canvas, points)
    # One step per stroke that changed anything (an eraser stroke over nothing adds none).
    assert canvas.undo_stack().count() == len(changes) > 150
    full_mask = 2048 * 2048
    stored = canvas.undo_memory_bytes()
    assert stored <= 64 * 1024 * 1024
    assert stored < 200 * full_mask / 20
    # Undo still restores exactly after all that.
    final = canvas.mask_array()
    canvas.undo()
    canvas.undo()
    canvas.redo()
    canvas.redo()
    np.testing.assert_array_equal(canvas.mask_array(), final)


def test_wheel_zoom_keeps_image_point_under_cursor(canvas: MaskCanvas) -> None:
    canvas.set_view(1.0, QPointF(13.0, 7.0))
    cursor = QPointF(173.0, 121.0)
    before = canvas.map_to_image(cursor)
    for delta in (120, 120, 240, -120):
        event = QWheelEvent(
            cursor,
            QPointF(canvas.mapToGlobal(cursor)),
            QPoint(0, 0),
            QPoint(0, delta),
            Qt.MouseButton.NoButton,
            NO_MODIFIER,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(canvas, event)
        after = canvas.map_to_image(cursor)
        assert after.x() == pytest.approx(before.x(), abs=1e-9)
        assert after.y() == pytest.approx(before.y(), abs=1e-9)
    assert canvas.zoom() == pytest.approx(1.25**3)


def test_middle_button_pans_without_painting(canvas: MaskCanvas) -> None:
    canvas.set_view(1.0, QPointF(0.0, 0.0))
    QTest.mousePress(canvas, Qt.MouseButton.MiddleButton, NO_MODIFIER, QPoint(100, 100))
    QTest.mouseMove(canvas, QPoint(130, 90))
    QTest.mouseRelease(canvas, Qt.MouseButton.MiddleButton, NO_MODIFIER, QPoint(130, 90))
    assert canvas.view_offset() == QPointF(30.0, -10.0)
    assert not canvas.mask_array().any()
    assert canvas.undo_stack().count() == 0


def test_space_drag_pans_without_painting(canvas: MaskCanvas) -> None:
    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    stroke(canvas, [(100, 100), (80, 140)])
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    assert canvas.view_offset() == QPointF(-20.0, 40.0)
    assert not canvas.mask_array().any()
    stroke(canvas, [(100, 100)])  # after releasing space, the left button paints again
    assert canvas.mask_array().any()


def test_bracket_keys_change_brush_size(canvas: MaskCanvas) -> None:
    sizes: list[int] = []
    canvas.brush_size_changed.connect(sizes.append)
    canvas.set_brush_size(20)
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size() > 20
    bigger = canvas.brush_size()
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() < bigger
    assert sizes[0] == 20
    assert sizes[1:] == [bigger, sizes[2], canvas.brush_size()]
    canvas.set_brush_size(1)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size() == 1
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size() == 2


def test_x_toggles_eraser(canvas: MaskCanvas) -> None:
    modes: list[bool] = []
    canvas.erase_mode_changed.connect(modes.append)
    QTest.keyClick(canvas, Qt.Key.Key_X)
    assert canvas.erase_mode()
    QTest.keyClick(canvas, Qt.Key.Key_X)
    assert not canvas.erase_mode()
    assert modes == [True, False]


def _pixel(canvas: MaskCanvas, x: int, y: int) -> tuple[int, int, int]:
    color = canvas.grab().toImage().pixelColor(x, y)
    return color.red(), color.green(), color.blue()


def test_overlay_colour_and_opacity(canvas: MaskCanvas) -> None:
    canvas.set_overlay_color(QColor(0, 0, 255))
    canvas.set_overlay_opacity(1.0)
    canvas.set_brush_size(30)
    stroke(canvas, [(60, 60), (200, 60)])
    assert _pixel(canvas, 70, 60) == (0, 0, 255)
    assert _pixel(canvas, 70, 150) == (0, 0, 0)  # the black image, unmasked
    canvas.set_overlay_opacity(0.5)
    red, green, blue = _pixel(canvas, 70, 60)
    assert (red, green) == (0, 0)
    assert abs(blue - 128) <= 1
    canvas.set_overlay_color(QColor(255, 255, 0))
    red, green, blue = _pixel(canvas, 70, 60)
    assert abs(red - 128) <= 1
    assert abs(green - 128) <= 1
    assert blue == 0


def test_effective_mask_preview_shows_grow_in_overlay(canvas: MaskCanvas) -> None:
    canvas.set_overlay_opacity(1.0)
    canvas.set_overlay_color(QColor(255, 0, 0))
    canvas.set_brush_size(10)
    stroke(canvas, [(100, 100), (160, 100)])
    canvas.set_grow(8)
    assert _pixel(canvas, 130, 110) == (0, 0, 0)  # raw mask shown: 10 px below the line is clear
    canvas.set_show_effective_mask(True)
    assert _pixel(canvas, 130, 110) == (255, 0, 0)
    # A new stroke in preview mode updates the preview around it.
    stroke(canvas, [(250, 40)])
    assert _pixel(canvas, 250, 52) == (255, 0, 0)
    assert canvas.effective_mask()[52, 250] == 255
    canvas.set_show_effective_mask(False)
    assert _pixel(canvas, 250, 52) == (0, 0, 0)


class _PaintRecorder(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.rect())  # type: ignore[attr-defined]
        return False


def test_stroke_repaints_only_the_dirty_rectangle(canvas: MaskCanvas, qtbot: object) -> None:
    canvas.set_brush_size(10)
    recorder = _PaintRecorder()
    canvas.installEventFilter(recorder)
    QApplication.processEvents()
    recorder.rects.clear()
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(100, 100))
    QTest.mouseMove(canvas, QPoint(110, 100))
    QApplication.processEvents()
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(110, 100))
    assert recorder.rects
    for rect in recorder.rects:
        assert rect.width() <= 40
        assert rect.height() <= 40
    canvas.removeEventFilter(recorder)


def test_mouse_without_image_does_nothing(qtbot: object) -> None:
    canvas = MaskCanvas()
    qtbot.addWidget(canvas)  # type: ignore[attr-defined]
    canvas.resize(200, 200)
    canvas.show()
    stroke(canvas, [(10, 10), (50, 50)])
    assert not canvas.has_image()
    assert canvas.mask_array().shape == (0, 0)
    assert canvas.undo_stack().count() == 0
    canvas.fill_mask()
    canvas.invert_mask()
    assert canvas.effective_mask().shape == (0, 0)


def test_set_mask_array_without_undo_clears_history(canvas: MaskCanvas) -> None:
    stroke(canvas, [(50, 50)])
    assert canvas.undo_stack().count() == 1
    canvas.set_mask_array(np.zeros((200, 300), dtype=np.uint8), undoable=False)
    assert canvas.undo_stack().count() == 0
    assert not canvas.mask_array().any()


def test_undo_in_the_middle_of_a_stroke_stops_the_stroke(canvas: MaskCanvas) -> None:
    canvas.set_brush_size(6)
    stroke(canvas, [(20, 20), (60, 20)])
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(20, 100))
    QTest.mouseMove(canvas, QPoint(60, 100))
    canvas.undo_stack().undo()  # e.g. an Undo action fired by a shortcut mid-stroke
    QTest.mouseMove(canvas, QPoint(100, 100))
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, NO_MODIFIER, QPoint(100, 100))
    mask = canvas.mask_array()
    assert mask[20, 40] == 0  # the first stroke is undone
    assert mask[100, 80] == 0  # the interrupted stroke did not continue
    assert canvas.undo_stack().count() == 1
