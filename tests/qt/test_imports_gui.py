"""Issue 24 in the window: a folder import that never aborts, 64-bit seeds in the seed box, and
choosing the model an imported image re-runs with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.importers.checkpoints import SD20_BASE, SD21, SD21_BASE
from sd21_desktop.ui.main_window import MainWindow
from sd21_desktop.ui.seed_box import SeedBox
from tests.gallery.import_folder_support import BIG_SEED, make_import_folder
from tests.qt.conftest import WorkerRecorder
from tests.qt.test_gallery_gui import JOB_TIMEOUT_MS, open_gallery


def test_gui_import_of_a_folder_imports_nine_and_reports_one(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    given = make_import_folder(tmp_path)
    panel = window.gallery_panel
    open_gallery(window, qtbot, 0)
    messages: list[str] = []
    panel.message.connect(messages.append)
    panel.import_requested.emit([str(given.folder)])
    qtbot.waitUntil(lambda: panel.model.rowCount() == 9, timeout=30_000)
    qtbot.waitUntil(lambda: bool(messages), timeout=10_000)
    assert messages[-1].startswith("Imported 9 image(s).")
    assert "1 could not be imported: damaged-chunk.png: This is not an image" in messages[-1]
    seeds = {panel.model.entry(row).seed for row in range(9)}  # type: ignore[union-attr]
    assert seeds == {*range(8), BIG_SEED}
    messages.clear()
    panel.import_requested.emit([str(given.folder)])  # again: all nine are already there
    qtbot.waitUntil(lambda: bool(messages), timeout=30_000)
    assert messages[-1].startswith("Imported 0 image(s). Skipped 9 already in the gallery.")


def test_seed_box_holds_every_64_bit_seed(window: MainWindow, qtbot: QtBot) -> None:
    params = window.parameters
    box = params.seed_spin
    assert isinstance(box, SeedBox)
    for seed in (0, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1):
        box.setValue(seed)
        assert params.build_request("p", "").seed == seed
    box.lineEdit().selectAll()
    qtbot.keyClicks(box, "18446744073709551616")  # 2^64: the last digit is refused
    assert box.text() == "1844674407370955161"
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert box.value() == 1844674407370955161
    params.apply_request(GenerationRequest(prompt="p", seed=2**63 + 5, width=64, height=64))
    assert box.value() == 2**63 + 5  # exact, no longer clamped to 2^31 - 1


def test_batch_count_seeds_wrap_at_2_to_the_64(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    params = window.parameters
    params.steps_spin.setValue(1)
    params.seed_spin.setValue(2**64 - 1)
    params.batch_count_spin.setValue(2)
    window.generate_button.click()
    qtbot.waitUntil(lambda: len(recorder.of("finished")) == 2, timeout=JOB_TIMEOUT_MS)
    seeds = [event[2][0].seed for event in recorder.of("finished")]
    assert seeds == [2**64 - 1, 0]


def test_choosing_the_re_run_model_of_an_imported_entry(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot, tmp_path: Path
) -> None:
    given = make_import_folder(tmp_path)
    panel = window.gallery_panel
    open_gallery(window, qtbot, 0)
    panel.import_requested.emit([str(given.big_seed)])
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=30_000)
    panel.view.setCurrentIndex(panel.model.index(0))
    details = panel.details
    qtbot.waitUntil(lambda: details.entry is not None)
    assert details.model_row.isVisibleTo(details)
    assert details.model_combo.currentData() == SD21
    text = details.text.toPlainText()
    assert "Made with" in text
    assert "v2-1_768-ema-pruned.safetensors" in text
    assert f"Seed\n{BIG_SEED}\n" in text
    details.model_combo.setCurrentIndex(details.model_combo.findData(SD20_BASE))
    details.model_combo.activated.emit(details.model_combo.currentIndex())
    qtbot.waitUntil(
        lambda: (
            details.entry is not None
            and details.entry.request is not None
            and details.entry.request.model == SD20_BASE
        ),
        timeout=10_000,
    )
    assert "chosen by you" in details.text.toPlainText()
    # What a re-run would queue (the window's own slot is left out: no such model is cached).
    requested: list[object] = []
    panel.rerun_requested.disconnect(window.rerun)
    panel.rerun_requested.connect(lambda request, _index: requested.append(request))
    panel.rerun_exact()
    [request] = requested
    assert isinstance(request, GenerationRequest)
    assert (request.model, request.seed) == (SD20_BASE, BIG_SEED)


def test_generated_entries_offer_no_model_choice(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    params = window.parameters
    params.steps_spin.setValue(1)
    params.seed_spin.setValue(2**63)
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    panel = window.gallery_panel
    open_gallery(window, qtbot, 1)
    panel.view.setCurrentIndex(panel.model.index(0))
    details = panel.details
    qtbot.waitUntil(lambda: details.entry is not None)
    assert details.entry is not None
    assert details.entry.seed == 2**63
    assert not details.model_row.isVisibleTo(details)
    assert details.entry.request is not None
    assert details.entry.request.model != SD21_BASE
    # Re-running from the gallery with seed 2^63 gives the same pixels.
    panel.rerun_exact()
    qtbot.waitUntil(lambda: len(recorder.of("finished")) == 2, timeout=JOB_TIMEOUT_MS)
    again = recorder.of("finished")[1][2][0]
    assert again.seed == 2**63
    original = np.array(Image.open(details.entry.path).convert("RGB"))
    assert np.array_equal(original, np.array(Image.open(again.path).convert("RGB")))


def test_drop_to_load_keeps_the_editor_model_for_an_unknown_one_and_says_so(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    from tests.gallery.import_folder_support import a1111_text, png_with_text

    before = window.parameters.model()
    unknown = tmp_path / "unknown.png"
    unknown.write_bytes(png_with_text({"parameters": a1111_text("a windmill", 3, "dreamshaper_8")}))
    window.load_settings_from_image(str(unknown))
    qtbot.waitUntil(lambda: window.prompt_editor.prompt() == "a windmill", timeout=10_000)
    assert window.parameters.model() == before
    assert window.message_bar.kind == "notice"
    assert f"model 'dreamshaper_8' unknown: kept {before}" in window.message_bar.label.text()
    known = tmp_path / "known.png"
    known.write_bytes(png_with_text({"parameters": a1111_text("a mill", 4, "v2-1_512-ema-pruned")}))
    window.load_settings_from_image(str(known))
    qtbot.waitUntil(lambda: window.prompt_editor.prompt() == "a mill", timeout=10_000)
    assert window.parameters.model() == SD21_BASE
    assert window.parameters.seed_spin.value() == 4


def test_drop_to_load_of_a_damaged_file_is_one_error_line(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    given = make_import_folder(tmp_path)
    window.prompt_editor.set_prompts("keep me", "")
    window.load_settings_from_image(str(given.damaged))
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=10_000)
    assert window.message_bar.kind == "error"
    assert "Traceback" not in window.message_bar.label.text()
    assert window.prompt_editor.prompt() == "keep me"
