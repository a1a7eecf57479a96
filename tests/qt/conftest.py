"""Fixtures that build the real, fully wired window on a tiny model."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from sd21_desktop.app import create_app
from sd21_desktop.ui.main_window import MainWindow


@pytest.fixture
def window(qapp: QApplication, tiny_model_dir: Path, data_dir: Path) -> Iterator[MainWindow]:
    main_window = open_window(tiny_model_dir, data_dir)
    yield main_window
    close_window(main_window)


def open_window(tiny_model_dir: Path, data_dir: Path, *flags: str) -> MainWindow:
    """The wired window on the tiny model: 4 steps, 64 x 64, seed 1234 fixed, a prompt."""
    _, main_window = create_app(
        ["--model", str(tiny_model_dir), "--data-dir", str(data_dir), *flags]
    )
    params = main_window.parameters
    params.steps_spin.setValue(4)
    params.set_size(64, 64)
    params.seed_mode_combo.setCurrentIndex(params.seed_mode_combo.findData("fixed"))
    params.seed_spin.setValue(1234)
    main_window.prompt_editor.set_prompts("a small red boat", "blurry")
    main_window.show()
    return main_window


def close_window(main_window: MainWindow) -> None:
    """Close and delete a window now, and collect its garbage here rather than in a later test
    (where the collector would run while that test's worker thread is busy)."""
    if main_window.isVisible():
        main_window.close()
    main_window.controller.shutdown()  # type: ignore[attr-defined]
    main_window.deleteLater()
    QApplication.processEvents()
    gc.unfreeze()  # the warm-up freezes what lives when torch is imported: this window too
    gc.collect()


class WorkerRecorder(QObject):
    """Records the worker's signals through slots of a GUI-thread object (queued connections),
    exactly as the window receives them."""

    def __init__(self, worker: QObject) -> None:
        super().__init__()
        self.events: list[tuple] = []  # type: ignore[type-arg]
        self.on_progress_hook: Callable[[int], None] | None = None
        worker.started.connect(self.on_started)  # type: ignore[attr-defined]
        worker.progress.connect(self.on_progress)  # type: ignore[attr-defined]
        worker.preview.connect(self.on_preview)  # type: ignore[attr-defined]
        worker.finished.connect(self.on_finished)  # type: ignore[attr-defined]
        worker.failed.connect(self.on_failed)  # type: ignore[attr-defined]
        worker.cancelled.connect(self.on_cancelled)  # type: ignore[attr-defined]

    def of(self, kind: str) -> list[tuple]:  # type: ignore[type-arg]
        return [event for event in self.events if event[0] == kind]

    @Slot(str)
    def on_started(self, job: str) -> None:
        self.events.append(("started", job))

    @Slot(str, int, int, float, float)
    def on_progress(self, job: str, step: int, total: int, rate: float, eta: float) -> None:
        self.events.append(("progress", job, step, total))
        if self.on_progress_hook is not None:
            self.on_progress_hook(step)

    @Slot(str, QImage)
    def on_preview(self, job: str, image: QImage) -> None:
        self.events.append(("preview", job, image.size()))

    @Slot(str, list)
    def on_finished(self, job: str, images: list) -> None:  # type: ignore[type-arg]
        self.events.append(("finished", job, images))

    @Slot(str, str)
    def on_failed(self, job: str, message: str) -> None:
        self.events.append(("failed", job, message))

    @Slot(str)
    def on_cancelled(self, job: str) -> None:
        self.events.append(("cancelled", job))


@pytest.fixture
def recorder(window: MainWindow) -> WorkerRecorder:
    return WorkerRecorder(window.controller.worker)  # type: ignore[attr-defined]
