"""The persistent queue through the real window: its rows, reorder / pause / retry / clear kept
across a restart, the recovery question, images the disk refuses, and damaged files."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shiboken6
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from sd21_desktop.app import create_app
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery import files
from sd21_desktop.gallery.metadata import ImageRecord, read_record
from sd21_desktop.gallery.queue_store import GUI_QUEUE, JobStore
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.qt.jobs import JobQueue, JobState
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder, close_window

JOB_TIMEOUT_MS = 120_000
Opener = Callable[[], MainWindow]


@pytest.fixture
def open_window(qapp: QApplication, tiny_model_dir: Path, data_dir: Path) -> Iterator[Opener]:
    """Opens the real window on ``data_dir`` (again and again: a restart)."""
    opened: list[MainWindow] = []

    def open_one() -> MainWindow:
        _, window = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
        params = window.parameters
        params.steps_spin.setValue(2)
        params.set_size(64, 64)
        params.seed_mode_combo.setCurrentIndex(params.seed_mode_combo.findData("fixed"))
        window.prompt_editor.set_prompts("a queue of boats", "")
        window.show()
        opened.append(window)
        return window

    yield open_one
    for window in opened:
        if shiboken6.isValid(window):  # not closed by the test (a restart)
            close_window(window)


def _queue(window: MainWindow, *seeds: int) -> list[str]:
    for seed in seeds:
        window.parameters.seed_spin.setValue(seed)
        window.generate_button.click()
    return [job.id for job in window.queue.jobs()[-len(seeds) :]]


def _seeds(window: MainWindow) -> list[int]:
    return [job.request.seed for job in window.queue.jobs()]


def _strip(window: MainWindow, name: str) -> Any:
    return getattr(window.queue_panel, name)


def _click_cross(window: MainWindow, row: int) -> None:
    view = window.queue_view
    rect = view.visualRect(window.queue.index(row))
    QTest.mouseClick(
        view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=window.queue_panel.delegate.button_rect(rect).center(),
    )


def test_rows_show_prompt_state_and_a_working_cancel_cross(
    open_window: Opener, qtbot: QtBot
) -> None:
    window = open_window()
    window.queue_panel.pause_button.click()
    ids = _queue(window, 1, 2)
    assert window.queue.index(0).data() == "[waiting] a queue of boats · 64×64 · seed 1"
    assert "2 waiting, paused" in window.queue_panel.title.text()
    window.queue_view.grab()  # the delegate paints every state without error
    _click_cross(window, 1)
    assert window.queue.job(ids[1]).state is JobState.CANCELLED  # type: ignore[union-attr]
    assert _seeds(window) == [1]
    assert [job.id for job in window.queue.store.jobs(GUI_QUEUE)] == [ids[0]]
    window.queue.job(ids[0]).state = JobState.RUNNING  # type: ignore[union-attr]
    option_height = window.queue_view.sizeHintForRow(0)
    window.queue.job(ids[0]).state = JobState.PENDING  # type: ignore[union-attr]
    assert option_height > window.queue_view.sizeHintForRow(0)  # room for the progress bar


def test_reorder_pause_and_clear_are_kept_across_a_restart(
    open_window: Opener, qtbot: QtBot
) -> None:
    window = open_window()
    window.queue_panel.pause_button.click()
    assert window.queue.paused
    _queue(window, 1, 2, 3)
    assert window.queue.move(window.queue.jobs()[2].id, 0)  # what a drag to the top does
    window.queue_view.setCurrentIndex(window.queue.index(2))
    window.queue_panel.move_selected(-1)  # Ctrl+Up
    assert _seeds(window) == [3, 2, 1]
    close_window(window)

    window = open_window()
    assert _seeds(window) == [3, 2, 1]
    assert window.queue.paused
    assert window.queue_panel.pause_button.text() == "Resume"
    strip = _strip(window, "recovery_strip")
    assert strip.text().startswith("3 jobs are still queued from last time.")
    strip.buttons["recoveryReviewButton"].click()
    assert strip.isHidden()
    assert window.queue.running is None
    recorder = WorkerRecorder(window.controller.worker)  # type: ignore[attr-defined]
    window.queue_panel.pause_button.click()  # Resume
    qtbot.waitUntil(lambda: not window.queue.is_busy(), timeout=JOB_TIMEOUT_MS)
    started = [window.queue.job(event[1]).request.seed for event in recorder.of("started")]  # type: ignore[union-attr]
    assert started == [3, 2, 1]
    window.queue_panel.clear_button.click()
    assert window.queue.rowCount() == 0
    close_window(window)

    window = open_window()
    assert window.queue.rowCount() == 0
    assert _strip(window, "recovery_strip").isHidden()
    assert not window.queue.paused


def test_a_failed_job_stays_failed_across_a_restart_and_retries(
    open_window: Opener, qtbot: QtBot, tmp_path: Path, tiny_model_dir: Path
) -> None:
    model = tmp_path / "model-later"
    model.mkdir()
    window = open_window()
    window.parameters.model_combo.setEditText(str(model))
    (job_id,) = _queue(window, 7)
    qtbot.waitUntil(
        lambda: window.queue.job(job_id).state is JobState.FAILED,
        timeout=JOB_TIMEOUT_MS,  # type: ignore[union-attr]
    )
    close_window(window)

    window = open_window()
    job = window.queue.job(job_id)
    assert job is not None
    assert job.state is JobState.FAILED
    assert job.error
    assert _strip(window, "recovery_strip").isHidden()  # failed jobs are not waiting
    shutil.copytree(tiny_model_dir, model, dirs_exist_ok=True)
    window.queue_view.setCurrentIndex(window.queue.index(0))
    window.queue_panel.retry_button.click()
    qtbot.waitUntil(lambda: job.state is JobState.FINISHED, timeout=JOB_TIMEOUT_MS)
    assert window.queue.store.get(job_id).state == "finished"  # type: ignore[union-attr]


def _left_by_a_crash(data_dir: Path, model: Path) -> tuple[JobStore, list[str]]:
    """A queue as a killed app leaves it: a session mark, one job running, two waiting."""
    store = JobStore(resolve_paths(data_dir).ensure().queue_path)
    ids = [
        store.add(
            GUI_QUEUE,
            GenerationRequest(
                prompt=f"left {seed}",
                model=str(model),
                seed=seed,
                steps=2,
                width=64,
                height=64,
                batch_size=2 if seed == 1 else 1,
            ),
        ).id
        for seed in (1, 2, 3)
    ]
    store.recover(GUI_QUEUE)  # the killed session's mark
    store.set_state(ids[0], "running")
    return store, ids


def test_after_a_crash_resume_runs_what_was_left_without_making_saved_images_twice(
    open_window: Opener, qtbot: QtBot, data_dir: Path, tiny_model_dir: Path
) -> None:
    store, ids = _left_by_a_crash(data_dir, tiny_model_dir)
    request = store.get(ids[0]).request  # type: ignore[union-attr]
    store.close()
    with GalleryStore(resolve_paths(data_dir)) as gallery:  # image 0 of the batch got saved
        gallery.add_image(
            Image.new("RGB", (64, 64)), ImageRecord(request, 1, 0, {"job_id": ids[0]})
        )
    window = open_window()
    strip = _strip(window, "recovery_strip")
    assert strip.text().startswith(
        "2 jobs were waiting and 1 was running when SD21 Desktop stopped."
    )
    assert window.queue.running is None  # nothing runs before the answer
    strip.buttons["recoveryResumeButton"].click()
    qtbot.waitUntil(lambda: not window.queue.is_busy(), timeout=JOB_TIMEOUT_MS)
    with GalleryStore(resolve_paths(data_dir)) as gallery:
        assert gallery.saved_by_job(ids[0]).keys() == {0, 1}
        assert [len(gallery.saved_by_job(i)) for i in ids[1:]] == [1, 1]
        assert gallery.count() == 4


def test_after_a_crash_new_jobs_run_while_the_question_waits_and_discard_drops_the_rest(
    open_window: Opener, qtbot: QtBot, data_dir: Path, tiny_model_dir: Path
) -> None:
    _left_by_a_crash(data_dir, tiny_model_dir)[0].close()
    window = open_window()
    (new,) = _queue(window, 42)
    job = window.queue.job(new)
    assert job is not None
    qtbot.waitUntil(lambda: job.state is JobState.FINISHED, timeout=JOB_TIMEOUT_MS)
    assert [j.state for j in window.queue.jobs()[:3]] == [JobState.PENDING] * 3  # still held
    _strip(window, "recovery_strip").buttons["recoveryDiscardButton"].click()
    assert window.queue.jobs() == [job]
    assert window.queue.running is None
    assert [j.id for j in window.queue.store.jobs(GUI_QUEUE)] == [new]


def _refuse_writes(monkeypatch: pytest.MonkeyPatch, code: int) -> dict[str, bool]:
    """The gallery's file writer meets a full disk / a denied folder after writing part."""
    refusing = {"on": True}
    real_open = open

    def refusing_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if refusing["on"] and "w" in mode:
            with real_open(path, mode, *args, **kwargs) as handle:
                handle.write(b"\x89PNG\r\n half")
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(files, "open", refusing_open, raising=False)
    return refusing


@pytest.mark.parametrize(("code", "answer"), [(errno.ENOSPC, "again"), (errno.EACCES, "as")])
def test_a_refused_save_keeps_the_image_stops_the_queue_and_saves_later(
    open_window: Opener,
    qtbot: QtBot,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    answer: str,
) -> None:
    window = open_window()
    refusing = _refuse_writes(monkeypatch, code)
    first, second = _queue(window, 11, 12)
    job = window.queue.job(first)
    assert job is not None
    qtbot.waitUntil(lambda: job.state is JobState.NOT_SAVED, timeout=JOB_TIMEOUT_MS)
    words = {errno.ENOSPC: "The disk is full", errno.EACCES: "Permission denied"}[code]
    assert job.error.startswith(words)
    assert window.queue.paused
    assert window.queue.job(second).state is JobState.PENDING
    strip = _strip(window, "save_strip")
    assert strip.text().startswith(f"1 image was not saved: {words}")
    assert window.queue.store.get(first).state == "not_saved"  # type: ignore[union-attr]
    gallery_files = [path for path in (data_dir / "gallery").rglob("*") if path.is_file()]
    assert gallery_files == []  # nothing, not even a temporary
    assert window.gallery_panel.model.rowCount() == 0
    kept = qimage_to_rgb_array(job.unsaved[0].image)
    qtbot.waitUntil(  # the window shows the image kept in memory
        lambda: np.array_equal(qimage_to_rgb_array(window.result_view.view.current_image()), kept)
    )
    refusing["on"] = False
    if answer == "again":
        strip.buttons["saveAgainButton"].click()
        qtbot.waitUntil(lambda: job.state is JobState.FINISHED, timeout=JOB_TIMEOUT_MS)
        (saved,) = (data_dir / "gallery").rglob("*.png")  # in its day folder
    else:
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.setattr(
            QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(elsewhere))
        )
        strip.buttons["saveAsButton"].click()
        qtbot.waitUntil(lambda: job.state is JobState.FINISHED, timeout=JOB_TIMEOUT_MS)
        (saved,) = elsewhere.glob("*.png")
        assert list((data_dir / "gallery").rglob("*.png")) == []
    assert np.array_equal(np.array(Image.open(saved).convert("RGB")), kept)
    assert read_record(saved).runtime["job_id"] == first  # type: ignore[union-attr]
    assert strip.isHidden()
    assert window.queue.paused
    window.queue_panel.pause_button.click()
    qtbot.waitUntil(lambda: not window.queue.is_busy(), timeout=JOB_TIMEOUT_MS)
    assert window.queue.job(second).state is JobState.FINISHED  # type: ignore[union-attr]


def test_data_folder_removed_while_running_is_one_message_and_no_crash(
    open_window: Opener, qtbot: QtBot, data_dir: Path
) -> None:
    window = open_window()
    qtbot.waitUntil(lambda: window.controller.gallery.ready.is_set())  # type: ignore[attr-defined]
    window.queue_panel.pause_button.click()
    (job_id,) = _queue(window, 5)
    shutil.rmtree(data_dir)
    window.queue_panel.pause_button.click()
    job = window.queue.job(job_id)
    assert job is not None
    qtbot.waitUntil(lambda: job.state is JobState.NOT_SAVED, timeout=JOB_TIMEOUT_MS)
    assert job.error.startswith("The folder is gone")
    assert not (data_dir / "gallery").exists()  # no new, empty gallery made in its place
    assert _strip(window, "save_strip").isVisible()
    assert window.message_bar.text() == ""  # one message, in the strip
    window.generate_button.click()  # still usable: queued, waiting for the paused queue
    assert window.queue.pending()


def test_damaged_queue_and_settings_are_moved_aside_and_the_app_works(
    open_window: Opener, qtbot: QtBot, data_dir: Path
) -> None:
    data_dir.mkdir(exist_ok=True)
    (data_dir / "queue.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    (data_dir / "settings.json").write_text('{"steps": 12, "prom')
    window = open_window()
    notice = window.message_bar.text()
    assert "The job queue was damaged" in notice
    assert "could not be read" in notice
    (queue_kept,) = data_dir.glob("queue.sqlite3.damaged-*")
    (settings_kept,) = data_dir.glob("settings.json.damaged-*")
    assert queue_kept.name in notice
    assert settings_kept.name in notice
    assert settings_kept.read_text() == '{"steps": 12, "prom'
    (job_id,) = _queue(window, 9)
    qtbot.waitUntil(
        lambda: window.queue.job(job_id).state is JobState.FINISHED,
        timeout=JOB_TIMEOUT_MS,  # type: ignore[union-attr]
    )
    assert isinstance(window.queue, JobQueue)
    assert window.queue.store.problem is None


def test_queue_view_passes_the_model_tester(open_window: Opener, qtmodeltester: Any) -> None:
    window = open_window()
    window.queue_panel.pause_button.click()
    _queue(window, 1, 2, 3)
    qtmodeltester.check(window.queue)
