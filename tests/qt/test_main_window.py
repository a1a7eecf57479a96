"""The window as a user drives it: Generate, progress, preview, cancel, queue, quit, failure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.runner import Engine
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.qt.jobs import JobState
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder, close_window

JOB_TIMEOUT_MS = 120_000


def test_generate_reports_every_step_then_finishes_with_the_engines_image(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    kinds = [event for event in recorder.events if event[0] in ("progress", "finished")]
    assert [(e[0], e[2], e[3]) for e in kinds[:-1]] == [("progress", s, 4) for s in (1, 2, 3, 4)]
    assert kinds[-1][0] == "finished"
    assert recorder.of("preview")  # at least the last step's preview
    _, job_id, images = kinds[-1]
    request = window.queue.job(job_id).request  # type: ignore[union-attr]
    expected = np.array(Engine().generate(request).images[0])
    qtbot.waitUntil(lambda: window.result_view.current_path is not None)
    shown = qimage_to_rgb_array(window.result_view.view.current_image())
    assert np.array_equal(shown, expected)
    assert Path(images[0].path).is_file()
    assert window.recent_view.count() == 1
    qtbot.waitUntil(lambda: window.gallery_panel.model.rowCount() == 1)
    assert window.progress_bar.value() == 4


def test_cancel_in_the_middle_saves_nothing_and_the_next_job_runs(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot, data_dir: Path
) -> None:
    window.parameters.steps_spin.setValue(200)

    def cancel_at(step: int) -> None:
        if step == 2:
            window.cancel_button.click()

    recorder.on_progress_hook = cancel_at
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("cancelled")), timeout=JOB_TIMEOUT_MS)
    recorder.on_progress_hook = None
    steps = [event[2] for event in recorder.of("progress")]
    assert max(steps) <= 4  # noticed within one step of the GUI's click
    assert list((data_dir / "gallery").rglob("*.png")) == []
    window.parameters.steps_spin.setValue(2)
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    assert len(list((data_dir / "gallery").rglob("*.png"))) == 1


def test_three_queued_jobs_run_in_order_and_a_removed_one_is_skipped(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    window.parameters.steps_spin.setValue(3)
    for seed in (1, 2, 3):
        window.parameters.seed_spin.setValue(seed)
        window.generate_button.click()
    ids = [window.queue.index(row).data(window.queue.JobIdRole) for row in range(3)]
    assert window.queue.rowCount() == 3
    window.queue.remove(ids[1])
    assert window.queue.job(ids[1]).state is JobState.CANCELLED  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: len(recorder.of("finished")) == 2, timeout=JOB_TIMEOUT_MS)
    finished = [event[1] for event in recorder.of("finished")]
    assert finished == [ids[0], ids[2]]
    assert ids[1] not in [event[1] for event in recorder.of("started")]
    assert [window.queue.job(i).request.seed for i in finished] == [1, 3]  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: not window.queue.is_busy())
    assert [job.state for job in window.queue.jobs()] == [JobState.FINISHED] * 2


def test_closing_during_a_job_stops_the_thread_and_writes_settings(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot, data_dir: Path
) -> None:
    window.parameters.steps_spin.setValue(300)
    window.prompt_editor.set_prompts("closing test prompt", "")
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("progress")), timeout=JOB_TIMEOUT_MS)
    window.close()
    assert window.controller.engine_thread.isFinished()  # type: ignore[attr-defined]
    settings = json.loads((data_dir / "settings.json").read_text())
    assert settings["prompt"] == "closing test prompt"
    assert settings["steps"] == 300
    assert list((data_dir / "gallery").rglob("*.png")) == []
    history = json.loads((data_dir / "prompt_history.json").read_text())
    assert history[0]["prompt"] == "closing test prompt"


def test_token_counter_counts_chunks_as_the_engine_encodes_them(
    window: MainWindow, qtbot: QtBot
) -> None:
    from transformers import CLIPTokenizer

    from sd21_desktop.engine.prompt_encoding import chunk_prompts
    from sd21_desktop.engine.tokens import tokenizer_loaded
    from tests.conftest import REPO_ROOT

    tokenizer = CLIPTokenizer.from_pretrained(str(REPO_ROOT / "resources" / "clip_tokenizer"))
    counter = window.findChild(QLabel, "promptTokenCounter")
    assert counter is not None
    qtbot.waitUntil(tokenizer_loaded)  # it loads off the GUI thread at start-up
    qtbot.waitUntil(lambda: counter.text() == "4/75")  # the fixture's "a small red boat"
    for text in ("a cat", "masterpiece, (best quality:1.2), " * 12, "word " * 90, "a BREAK b", ""):
        window.prompt_editor.prompt_edit.setPlainText(text)
        chunked = chunk_prompts(tokenizer, [text], {})[0]
        assert counter.text() == f"{chunked.token_count}/{chunked.target}"
        assert not window.prompt_editor.prompt_edit.extraSelections()  # nothing struck out
    window.prompt_editor.prompt_edit.setPlainText("word " * 90)
    assert counter.text() == "90/150"


def test_an_engine_failure_shows_a_message_and_the_app_stays_usable(
    window: MainWindow,
    recorder: WorkerRecorder,
    qtbot: QtBot,
    tmp_path: Path,
    tiny_model_dir: Path,
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    (broken / "unet").mkdir()
    window.parameters.model_combo.setEditText(str(broken))
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("failed")), timeout=JOB_TIMEOUT_MS)
    assert "broken" in recorder.of("failed")[0][2]
    assert window.message_bar.isVisible()
    assert window.message_bar.kind == "error"
    window.parameters.model_combo.setEditText(str(tiny_model_dir))
    window.parameters.steps_spin.setValue(2)
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)


def test_invalid_values_are_explained_before_clicking(window: MainWindow) -> None:
    window.parameters.width_spin.setValue(100)
    assert not window.generate_button.isEnabled()
    assert "multiple of 8" in window.parameters.validation_label.text()
    window.parameters.width_spin.setValue(96)
    assert window.generate_button.isEnabled()
    assert window.parameters.validation_label.text() == ""


def test_widgets_carry_stable_object_names(window: MainWindow) -> None:
    for name in (
        "promptEdit",
        "negativePromptEdit",
        "modelCombo",
        "schedulerCombo",
        "stepsSpin",
        "guidanceSpin",
        "seedSpin",
        "widthSpin",
        "heightSpin",
        "batchSizeSpin",
        "generateButton",
        "cancelButton",
        "progressBar",
        "previewView",
        "queueView",
        "galleryView",
    ):
        widget = window.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name


def test_corrupt_settings_fall_back_to_defaults_with_a_notice(
    qapp: QApplication, data_dir: Path
) -> None:
    from sd21_desktop.app import create_app

    (data_dir / "settings.json").write_text("{not json")
    _, window = create_app(["--data-dir", str(data_dir)])
    try:
        assert window.message_bar.kind == "notice"
        assert "could not be read" in window.message_bar.label.text()
        assert window.parameters.steps_spin.value() == 25
    finally:
        close_window(window)


def test_ctrl_enter_generates(window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot) -> None:
    window.parameters.steps_spin.setValue(2)
    window.prompt_editor.prompt_edit.setFocus()
    qtbot.keyClick(
        window.prompt_editor.prompt_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
    )
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)


def test_the_progress_bar_names_the_running_stage_of_the_plan(window: MainWindow) -> None:
    window.on_job_started("job")
    window.on_stage_changed("job", "denoise 2/2")
    window.on_progress("job", 7, 9, 2.0, 1.0)
    assert (window.progress_bar.value(), window.progress_bar.maximum()) == (7, 9)
    assert window.progress_bar.format() == "denoise 2/2 · step 7/9"
    window.on_job_started("next")
    window.on_progress("next", 1, 4, 2.0, 1.5)
    assert window.progress_bar.format() == "step 1/4"  # a new job starts without a label


def test_a_waiting_status_shows_the_time_it_has_taken_until_progress_comes(
    window: MainWindow, qtbot: QtBot
) -> None:
    clock = window.status_clock
    clock.show_after_s = 0
    window.show_status("Optimising for this size (first time only): the unet at 64x64, batch 2…")
    assert clock.isVisible()
    assert clock.text() == "0:00"
    window.on_progress("job", 1, 4, 2.0, 1.5)  # the first step: the wait is over
    assert not clock.isVisible()
    window.show_status("Loading the optimised model for the unet at 64x64, batch 2…")
    assert clock.isVisible()
    window.show_status("Ready: tiny on cpu")  # a status that is not a wait
    assert not clock.isVisible()


def test_the_status_clock_counts_minutes_and_seconds_after_its_threshold(qtbot: QtBot) -> None:
    from sd21_desktop.ui.status_clock import StatusClock

    clock = StatusClock(show_after_s=1)
    qtbot.addWidget(clock)
    clock.follow("Starting the engine (loading PyTorch)…")
    assert not clock.isVisible()  # a short wait shows no clock
    qtbot.waitUntil(clock.isVisible, timeout=3000)
    assert clock.text() in ("0:01", "0:02")  # the first tick may land just before 1 s
