"""The window with ``--engine ray`` (one CPU actor of the test session's local Ray instance):
Generate shows every step and a preview, the result is the local engine's image (same thread
count) and lands in the gallery; Cancel stops the remote job and the next job runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.runner import Engine
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder, close_window, open_window
from tests.ray_workers.test_ray_engine import like_an_actor

JOB_TIMEOUT_MS = 240_000


@pytest.fixture
def ray_window(
    qapp: QApplication, ray_session: Any, tiny_model_dir: Path, data_dir: Path
) -> Iterator[MainWindow]:
    window = open_window(
        tiny_model_dir, data_dir, "--device", "cpu", "--engine", "ray", "--ray-workers", "1"
    )
    yield window
    close_window(window)


def test_generate_progress_preview_cancel_and_gallery_through_ray(
    ray_window: MainWindow, qtbot: QtBot, data_dir: Path
) -> None:
    window = ray_window
    recorder = WorkerRecorder(window.controller.worker)  # type: ignore[attr-defined]
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(recorder.of("finished") or recorder.of("failed")),
                    timeout=JOB_TIMEOUT_MS)
    assert not recorder.of("failed"), recorder.of("failed")
    engine = window.controller.worker.engine  # type: ignore[attr-defined]
    assert type(engine).__name__ == "RayEngine"
    steps = [(event[2], event[3]) for event in recorder.of("progress")]
    assert steps == [(step, 4) for step in (1, 2, 3, 4)]
    assert recorder.of("preview")
    _, job_id, images = recorder.of("finished")[0]
    request = window.queue.job(job_id).request  # type: ignore[union-attr]
    with like_an_actor():
        expected = np.array(Engine(RuntimeOptions(device="cpu")).generate(request).images[0])
    qtbot.waitUntil(lambda: window.result_view.current_path is not None)
    assert np.array_equal(qimage_to_rgb_array(window.result_view.view.current_image()), expected)
    assert Path(images[0].path).is_file()
    qtbot.waitUntil(lambda: window.gallery_panel.model.rowCount() == 1)

    window.parameters.steps_spin.setValue(200)
    recorder.on_progress_hook = lambda step: window.cancel_button.click() if step == 2 else None
    recorder.events.clear()
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("cancelled")), timeout=JOB_TIMEOUT_MS)
    recorder.on_progress_hook = None
    assert max(event[2] for event in recorder.of("progress")) < 200
    assert len(list((data_dir / "gallery").rglob("*.png"))) == 1  # nothing saved for it
    window.parameters.steps_spin.setValue(2)
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    assert len(list((data_dir / "gallery").rglob("*.png"))) == 2
