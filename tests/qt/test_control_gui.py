"""ControlNet from the window: add a unit, paint a scribble on its layer, generate, remove it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.runner import Engine
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.ui.control_panel import ControlLayer
from sd21_desktop.ui.main_window import MainWindow
from tests.annotator_fixtures import needs_controlnet_aux
from tests.qt.conftest import WorkerRecorder

JOB_TIMEOUT_MS = 180_000


def _scribble(layer: ControlLayer, points: list[tuple[float, float]]) -> None:
    """A mouse stroke through image points (the layer maps them to the widget)."""
    from PySide6.QtCore import QPointF

    widget = [layer.map_from_image(QPointF(x, y)).toPoint() for x, y in points]
    QTest.mousePress(layer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget[0])
    for point in widget[1:]:
        QTest.mouseMove(layer, point)
    QTest.mouseRelease(
        layer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget[-1]
    )


def test_add_unit_paint_generate_and_remove(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot, tiny_controlnet_dir: Path,
    data_dir: Path,
) -> None:  # fmt: skip
    window.tabs.setCurrentWidget(window.canvas_tab)
    panel = window.canvas_tab.controls
    panel.add_button.click()
    (row,) = panel.rows
    layer = row.layer
    assert window.canvas_tab.layers.currentWidget() is layer  # the new layer is shown to paint
    assert (layer.image_size().width(), layer.image_size().height()) == (64, 64)  # the gen size
    assert layer.is_blank()
    row.model_combo.setEditText(str(tiny_controlnet_dir))
    row.weight.setValue(0.9)
    window.canvas_tab.brush_size.setValue(4)
    QGuiApplication.processEvents()
    _scribble(layer, [(8, 20), (30, 24), (56, 40)])
    painted = layer.control_array()
    assert painted.any()
    assert set(np.unique(painted)) >= {0, 255}  # white strokes on black
    shown = qimage_to_rgb_array(layer.grab().toImage())
    assert shown.max() > 200  # the strokes are on screen
    layer.undo()
    assert layer.is_blank()
    layer.redo()
    assert np.array_equal(layer.control_array(), painted)

    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    assert recorder.of("progress")
    saved = recorder.of("finished")[0][2][0]
    request = saved.entry.request
    (unit,) = request.controls
    assert (unit.model, unit.weight) == (str(tiny_controlnet_dir), 0.9)
    inputs = InputImages(data_dir / "inputs")
    assert np.array_equal(np.asarray(inputs.get(unit.image)), painted)  # what was shown
    again = Engine().generate(request, inputs=inputs).images[0]
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(saved.path).convert("RGB")))

    row.findChild(type(panel.add_button), "controlRemoveButton").click()
    assert panel.rows == []
    assert window.canvas_tab.layers.currentWidget() is window.canvas_tab.canvas
    request, inputs_for_job = window.canvas_inputs(window.parameters.build_request("p", ""))
    assert request.controls == ()
    assert inputs_for_job == {}


def test_from_picture_with_canny_shows_the_edges_the_model_gets(
    window: MainWindow, qtbot: QtBot
) -> None:
    from sd21_desktop.engine.control_preprocess import canny_edges
    from sd21_desktop.qt.images import rgb_array_to_qimage

    tab = window.canvas_tab
    pixels = np.zeros((48, 80, 3), np.uint8)
    pixels[10:40, 20:60] = 230
    tab.set_image(rgb_array_to_qimage(pixels))
    row = tab.controls.add_unit()
    assert row is not None
    assert (row.layer.image_size().width(), row.layer.image_size().height()) == (80, 48)
    row.preprocessor_combo.setCurrentText("canny")
    row.findChild(type(tab.controls.add_button), "controlFromPictureButton").click()
    edges = np.asarray(canny_edges(Image.fromarray(pixels)))
    assert np.array_equal(row.layer.control_array(), edges)
    units, images = tab.controls.units_for_request()
    assert units[0].preprocessor == "canny"
    assert np.array_equal(np.asarray(images[units[0].image]), edges)
    for _ in range(2):
        tab.controls.add_unit()
    assert tab.controls.add_unit() is None  # a fourth is refused, with a message
    assert tab.controls.show_combo.count() == 4  # picture & mask + three layers


def _preprocessor_item(row: object, name: str) -> object:
    combo = row.preprocessor_combo  # type: ignore[attr-defined]
    return combo.model().item(combo.findText(name))


@needs_controlnet_aux
def test_hed_is_offered_with_its_weights_and_made_by_the_worker(
    window: MainWindow, qtbot: QtBot, data_dir: Path, annotator_weights: Path,
    empty_hub_cache: Path,
) -> None:  # fmt: skip
    from sd21_desktop.engine.control_preprocess import preprocess
    from sd21_desktop.qt.images import rgb_array_to_qimage

    folder = data_dir / "models" / "annotators"  # the default folder
    folder.mkdir(parents=True)
    (folder / "ControlNetHED.pth").symlink_to(annotator_weights / "ControlNetHED.pth")
    tab = window.canvas_tab
    pixels = np.asarray(Image.effect_mandelbrot((80, 48), (-2, -1, 1, 1), 60).convert("RGB"))
    tab.set_image(rgb_array_to_qimage(np.ascontiguousarray(pixels)))
    row = tab.controls.add_unit()
    assert row is not None
    assert _preprocessor_item(row, "hed").isEnabled()  # type: ignore[attr-defined]
    lineart = _preprocessor_item(row, "lineart")
    assert not lineart.isEnabled()  # type: ignore[attr-defined]
    assert "sk_model.pth" in lineart.toolTip()  # type: ignore[attr-defined]
    assert str(folder) in lineart.toolTip()  # type: ignore[attr-defined]
    row.preprocessor_combo.setCurrentText("hed")
    row.findChild(type(tab.controls.add_button), "controlFromPictureButton").click()
    expected = np.asarray(preprocess("hed", Image.fromarray(pixels), annotators=folder))
    qtbot.waitUntil(lambda: not row.layer.is_blank(), timeout=60_000)
    assert np.array_equal(row.layer.control_array(), expected)
    units, _images = tab.controls.units_for_request()
    assert units[0].preprocessor == "hed"


def test_hed_without_weights_is_not_offered_and_says_where_they_go(
    window: MainWindow, data_dir: Path, empty_hub_cache: Path
) -> None:
    from sd21_desktop.engine.annotators import unavailable
    from sd21_desktop.qt.images import rgb_array_to_qimage

    tab = window.canvas_tab
    tab.set_image(rgb_array_to_qimage(np.full((48, 80, 3), 90, np.uint8)))
    row = tab.controls.add_unit()
    assert row is not None
    reason = unavailable("hed", data_dir / "models" / "annotators")
    assert reason is not None
    item = _preprocessor_item(row, "hed")
    assert not item.isEnabled()  # type: ignore[attr-defined]
    assert item.toolTip() == reason  # type: ignore[attr-defined]
    row.model_combo.setCurrentIndex(row.model_combo.findText(
        "thibaud/controlnet-sd21-hed-diffusers"))  # fmt: skip
    assert row.preprocessor() != "hed"  # not suggested while it cannot run
    row.preprocessor_combo.setCurrentText("hed")
    row.findChild(type(tab.controls.add_button), "controlFromPictureButton").click()
    assert reason in window.message_bar.text()
    assert row.layer.is_blank()


def test_load_parameters_restores_the_units_with_their_control_images(
    window: MainWindow, qtbot: QtBot, tiny_model_dir: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.control_units import ControlUnit
    from sd21_desktop.engine.request import GenerationRequest

    rng = np.random.default_rng(3)
    stored = Image.fromarray(rng.integers(0, 256, (40, 72, 3), dtype=np.uint8), "RGB")
    digest = InputImages(data_dir / "inputs").put(stored)
    units = (
        ControlUnit("owner/cn-a", digest, 0.7, 0.1, 0.8, True, "canny"),
        ControlUnit("owner/cn-b", "0" * 64, 1.2, 0.0, 0.5, True, "hed"),  # image gone
    )
    request = GenerationRequest(
        prompt="a boat", model=str(tiny_model_dir), width=64, height=64, steps=4, seed=9,
        controls=units,
    )  # fmt: skip
    window.gallery_panel.parameters_requested.emit(request)  # the gallery's Load parameters
    panel = window.canvas_tab.controls
    qtbot.waitUntil(lambda: len(panel.rows) == 2, timeout=10_000)
    first, second = panel.rows
    assert (first.model_combo.currentText(), first.preprocessor()) == ("owner/cn-a", "canny")
    assert (first.weight.value(), first.start.value(), first.end.value()) == (0.7, 0.1, 0.8)
    assert panel.guess_mode.isChecked()
    assert np.array_equal(first.layer.control_array(), np.asarray(stored))
    assert (second.model_combo.currentText(), second.preprocessor()) == ("owner/cn-b", "hed")
    assert second.layer.is_blank()
    assert "control image of unit 2 is missing" in window.message_bar.text()
    again, images = panel.units_for_request()
    assert again[0] == units[0]  # the same image id: a re-run is exact
    assert np.array_equal(np.asarray(images[digest]), np.asarray(stored))
    assert again[1] == ControlUnit("owner/cn-b", again[1].image, 1.2, 0.0, 0.5, True, "hed")

    without = request.replace(controls=())
    window.gallery_panel.parameters_requested.emit(without)  # no units: the panel's stay
    QGuiApplication.processEvents()
    assert len(panel.rows) == 2


@needs_controlnet_aux
@pytest.mark.qt_log_ignore("This plugin does not support")  # the offscreen popup's
def test_the_annotators_folder_setting_decides_what_is_offered(
    window: MainWindow, annotator_weights: Path, empty_hub_cache: Path
) -> None:
    from sd21_desktop.ui.settings_dialog import SettingsDialog

    row = window.canvas_tab.controls.add_unit()
    assert row is not None
    assert not _preprocessor_item(row, "lineart").isEnabled()  # type: ignore[attr-defined]
    dialog = SettingsDialog(window.settings)
    dialog.annotators_edit.setText(str(annotator_weights))
    dialog.apply_to(window.settings)
    dialog.deleteLater()
    assert window.annotators_folder() == annotator_weights
    row.preprocessor_combo.showPopup()  # opening the list looks again
    row.preprocessor_combo.hidePopup()
    assert _preprocessor_item(row, "lineart").isEnabled()  # type: ignore[attr-defined]
    assert _preprocessor_item(row, "hed").isEnabled()  # type: ignore[attr-defined]
    assert not _preprocessor_item(row, "openpose").isEnabled()  # type: ignore[attr-defined]


def test_the_tool_rows_grow_to_show_every_unit(window: MainWindow, qtbot: QtBot) -> None:
    from sd21_desktop.ui.window_layout import HorizontalScroller

    tab = window.canvas_tab
    window.tabs.setCurrentWidget(tab)
    scroller = next(
        w for w in tab.findChildren(HorizontalScroller) if w.widget().isAncestorOf(tab.controls)
    )
    QGuiApplication.processEvents()
    before = scroller.height()
    for _ in range(3):
        tab.controls.add_unit()
    row_height = tab.controls.rows[0].sizeHint().height()
    qtbot.waitUntil(lambda: scroller.height() >= before + 3 * row_height, timeout=5_000)
    grown = scroller.height()
    assert grown >= scroller.widget().sizeHint().height()  # every row shown, none cut off
    tab.controls.remove_unit(tab.controls.rows[0])
    qtbot.waitUntil(lambda: scroller.height() < grown, timeout=5_000)
