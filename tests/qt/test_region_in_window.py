"""Region inpainting from the window: a 1536x1024 image, the tiny inpainting model, result back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from sd21_desktop.app import create_app
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.qt.images import qimage_to_rgb_array, rgb_array_to_qimage
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder, close_window

JOB_TIMEOUT_MS = 180_000


@pytest.fixture
def inpaint_window(
    qapp: QApplication, tiny_inpaint_model_dir: Path, data_dir: Path
) -> Iterator[MainWindow]:
    _, window = create_app(["--model", str(tiny_inpaint_model_dir), "--data-dir", str(data_dir)])
    params = window.parameters
    params.steps_spin.setValue(3)
    params.seed_mode_combo.setCurrentIndex(params.seed_mode_combo.findData("fixed"))
    params.seed_spin.setValue(77)
    window.prompt_editor.set_prompts("a red apple", "")
    window.show()
    yield window
    close_window(window)


def large_picture() -> np.ndarray:
    y, x = np.mgrid[0:1024, 0:1536]
    return np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)


def test_region_inpaint_from_the_canvas_and_the_result_back_on_it(
    inpaint_window: MainWindow, qtbot: QtBot, data_dir: Path
) -> None:
    window = inpaint_window
    recorder = WorkerRecorder(window.controller.worker)  # type: ignore[attr-defined]
    pixels = large_picture()
    tab = window.canvas_tab
    tab.set_image(rgb_array_to_qimage(pixels))
    canvas = tab.canvas
    mask = np.zeros((1024, 1536), dtype=np.uint8)
    mask[500:560, 900:960] = 255
    canvas.set_mask_array(mask)
    canvas.set_tool("paint")  # a colour stroke: the stored input is the composite
    canvas.paint_layer().begin(QColor(255, 0, 0), 1.0, erase=False)
    canvas.paint_layer().pixels[520:540, 920:940] = (255, 0, 0, 255)
    canvas.paint_layer().end()
    composite = canvas.composite_array()
    window.parameters.set_mode("inpaint")
    assert tab.region.area_value() == "masked"  # auto: larger than the model's 64 px
    assert canvas.crop_box() == (868, 468, 992, 592)  # the dashed outline
    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    saved = recorder.of("finished")[0][2][0]
    request = saved.entry.request
    assert (request.inpaint_area, request.crop_box) == ("masked", (868, 468, 992, 592))
    assert (request.width, request.height) == (64, 64)
    stored = InputImages(data_dir / "inputs").get(request.init_image or "")
    assert np.array_equal(np.asarray(stored), composite)
    result = np.array(Image.open(saved.path).convert("RGB"))
    assert result.shape == (1024, 1536, 3)
    outside = mask == 0
    assert np.array_equal(result[outside], composite[outside])
    assert not np.array_equal(result[~outside], composite[~outside])

    window.result_view.buttons["toCanvasButton"].click()
    assert np.array_equal(qimage_to_rgb_array(canvas.image() or QImage()), result)
    assert np.array_equal(canvas.mask_array(), mask)  # kept, to iterate
    assert canvas.paint_layer().is_empty()  # the paint is in the picture now
    canvas.undo()
    assert np.array_equal(qimage_to_rgb_array(canvas.image() or QImage()), pixels)
    assert np.array_equal(canvas.composite_array(), composite)
