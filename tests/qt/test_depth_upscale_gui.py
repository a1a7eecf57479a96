"""Depth-to-image and x4 upscaling from the window (tiny 5- and 7-channel models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.inputs import content_hash
from sd21_desktop.qt.images import rgb_array_to_qimage
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder

JOB_TIMEOUT_MS = 180_000


def gradient(width: int = 64, height: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], axis=-1).astype(np.uint8)


def test_mode_switches_to_the_specialised_model_and_back(window: MainWindow) -> None:
    params = window.parameters
    before = params.model()
    params.set_mode("depth")
    assert params.model() == "sd2-community/stable-diffusion-2-depth"
    assert window.canvas_tab.depth_panel.isVisibleTo(window.canvas_tab)
    params.set_mode("upscale")
    assert params.model() == "sd2-community/stable-diffusion-x4-upscaler"
    assert params.form.isRowVisible(params.noise_level_spin)
    assert not params.form.isRowVisible(params.strength_spin)
    params.set_mode("txt2img")
    assert params.model() == before
    assert not window.canvas_tab.depth_panel.isVisibleTo(window.canvas_tab)


def test_depth_with_the_users_depth_map_records_it(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot, tiny_depth_model_dir: Path
) -> None:
    window.canvas_tab.set_image(rgb_array_to_qimage(gradient()))
    params = window.parameters
    params.set_mode("depth")
    params.model_combo.setEditText(str(tiny_depth_model_dir))
    params.steps_spin.setValue(4)
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (64, 1))
    depth = QImage(ramp.data, 64, 64, 64, QImage.Format.Format_Grayscale8).copy()
    window.canvas_tab.depth_panel.set_depth_map(depth, "yours")
    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    saved = recorder.of("finished")[0][2][0]
    assert saved.entry.request.mode == "depth"
    assert saved.entry.request.depth_map == content_hash(Image.fromarray(ramp, mode="L"))


def test_estimate_shows_the_depth_map(
    window: MainWindow, qtbot: QtBot, tiny_depth_model_dir: Path
) -> None:
    window.canvas_tab.set_image(rgb_array_to_qimage(gradient()))
    window.parameters.set_mode("depth")
    window.parameters.model_combo.setEditText(str(tiny_depth_model_dir))
    panel = window.canvas_tab.depth_panel
    panel.estimate_requested.emit()
    qtbot.waitUntil(lambda: panel.depth_map is not None, timeout=JOB_TIMEOUT_MS)
    assert (panel.depth_map.width(), panel.depth_map.height()) == (64, 64)  # type: ignore[union-attr]
    assert "estimated" in panel.source_label.text()


def test_upscale_from_the_gallery_gives_four_times_the_size(
    window: MainWindow,
    recorder: WorkerRecorder,
    qtbot: QtBot,
    tiny_upscale_model_dir: Path,
    tmp_path: Path,
) -> None:
    source = tmp_path / "small.png"
    Image.fromarray(gradient(40, 24)).save(source)
    window.upscale_on_canvas(str(source), "a tiny test card")
    assert window.parameters.mode() == "upscale"
    assert window.prompt_editor.prompt() == "a tiny test card"
    qtbot.waitUntil(window.canvas_tab.canvas.has_image, timeout=10_000)
    window.parameters.model_combo.setEditText(str(tiny_upscale_model_dir))
    window.parameters.steps_spin.setValue(3)
    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    saved = recorder.of("finished")[0][2][0]
    assert Image.open(saved.path).size == (160, 96)
    assert saved.entry.request.mode == "upscale"
