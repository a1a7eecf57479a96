"""Inpainting and img2img from the window's canvas; re-running such an entry from the gallery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from sd21_desktop.qt.images import qimage_to_rgb_array, rgb_array_to_qimage
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder

JOB_TIMEOUT_MS = 120_000


def gradient(width: int = 64, height: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], axis=-1).astype(np.uint8)


def put_on_canvas(window: MainWindow, pixels: np.ndarray) -> None:
    window.canvas_tab.set_image(rgb_array_to_qimage(pixels))


def test_inpaint_keeps_unmasked_pixels_and_reruns_exactly(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot, data_dir: Path
) -> None:
    pixels = gradient()
    put_on_canvas(window, pixels)
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[16:48, 16:48] = 255
    window.canvas_tab.canvas.set_mask_array(mask)
    window.parameters.set_mode("inpaint")
    window.parameters.steps_spin.setValue(3)
    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    saved = recorder.of("finished")[0][2][0]
    result = np.array(Image.open(saved.path).convert("RGB"))
    outside = mask == 0
    assert np.array_equal(result[outside], pixels[outside])
    assert not np.array_equal(result[~outside], pixels[~outside])
    request = saved.entry.request
    assert request.mode == "inpaint"
    assert (data_dir / "inputs" / request.init_image).is_file()
    assert (data_dir / "inputs" / request.mask_image).is_file()
    # the tiny txt2img model inpaints as masked img2img and says so
    qtbot.waitUntil(lambda: window.message_bar.kind == "notice", timeout=5_000)

    panel = window.gallery_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=10_000)
    panel.view.setCurrentIndex(panel.model.index(0))
    window.canvas_tab.canvas.clear_mask()  # the re-run must use the stored mask, not the canvas
    panel.rerun_exact()
    qtbot.waitUntil(lambda: len(recorder.of("finished")) == 2, timeout=JOB_TIMEOUT_MS)
    again = recorder.of("finished")[1][2][0]
    assert np.array_equal(np.array(Image.open(again.path).convert("RGB")), result)


def test_img2img_from_the_canvas_and_empty_canvas_errors(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    window.parameters.set_mode("img2img")
    assert not window.generate_button.isEnabled()  # nothing to change: never queued
    window.generate()
    assert window.message_bar.kind == "error"
    assert "needs a picture" in window.message_bar.label.text()
    from sd21_desktop.engine.imageprep import aspect_size

    put_on_canvas(window, gradient(72, 40))
    size = (window.parameters.width_spin.value(), window.parameters.height_spin.value())
    assert size == aspect_size((72, 40), window.parameters.native_size) == (112, 64)
    window.parameters.steps_spin.setValue(4)
    window.parameters.strength_spin.setValue(0.5)
    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    saved = recorder.of("finished")[0][2][0]
    assert Image.open(saved.path).size == (72, 40)
    assert saved.entry.request.strength == 0.5


def test_inpaint_with_an_empty_mask_explains(window: MainWindow) -> None:
    put_on_canvas(window, gradient())
    window.parameters.set_mode("inpaint")
    assert not window.generate_button.isEnabled()
    window.generate()
    assert "Inpaint needs a mask" in window.message_bar.label.text()


def test_outpainting_extends_the_canvas_with_a_masked_border(window: MainWindow) -> None:
    put_on_canvas(window, gradient(64, 64))
    window.canvas_tab.outpaint_pixels.setValue(32)
    window.canvas_tab.extend("right")
    canvas = window.canvas_tab.canvas
    assert (canvas.image_size().width(), canvas.image_size().height()) == (96, 64)
    mask = canvas.mask_array()
    assert mask[:, 64:].min() == 255
    assert mask[:, :64].max() == 0
    kept = qimage_to_rgb_array(canvas.image() or QImage())
    assert np.array_equal(kept[:, :64], gradient(64, 64))


def test_result_goes_to_the_canvas(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    window.parameters.steps_spin.setValue(2)
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    window.result_view.buttons["toCanvasButton"].click()
    assert window.tabs.currentWidget() is window.canvas_tab
    assert window.canvas_tab.canvas.has_image()
    assert window.parameters.mode() == "img2img"


def test_the_canvas_is_built_when_its_tab_first_shows(window: MainWindow) -> None:
    from sd21_desktop.ui.canvas_tab import CanvasTab

    assert window._canvas_tab is None  # not at start-up: it would load numpy before the window
    window.tabs.setCurrentIndex(1)
    assert isinstance(window.tabs.currentWidget(), CanvasTab)
    assert window.tabs.tabText(1) == "Canvas"
    assert window.canvas_tab is window.tabs.currentWidget()
