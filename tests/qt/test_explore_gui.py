"""The "Hires fix" group under the size and "Variations…" on a gallery image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.ui.main_window import MainWindow
from sd21_desktop.ui.variations_dialog import VariationsDialog
from tests.qt.conftest import WorkerRecorder
from tests.qt.test_gallery_gui import JOB_TIMEOUT_MS, open_gallery, seed_store


def test_the_hires_group_folds_shows_for_txt2img_only_and_makes_the_larger_image(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    params = window.parameters
    group = params.hires_group
    assert group.isVisible()
    assert not group.isChecked()
    assert not group.body.isVisible()  # folded while off
    assert params.build_request("p", "").hires_upscaler is None
    group.setChecked(True)
    assert group.body.isVisible()
    group.scale_spin.setValue(1.5)
    group.steps_spin.setValue(4)
    request = params.build_request("p", "")
    assert (request.hires_upscaler, request.hires_scale, request.hires_steps) == ("lanczos", 1.5, 4)
    assert request.hires_denoise == 0.5
    window.generate_button.click()
    qtbot.waitUntil(lambda: bool(recorder.of("finished")), timeout=JOB_TIMEOUT_MS)
    saved = recorder.of("finished")[0][2][0]
    assert Image.open(saved.path).size == (96, 96)
    assert saved.entry.request.hires_upscaler == "lanczos"
    params.set_mode("img2img")
    assert not group.isVisible()
    assert params.build_request("p", "").hires_upscaler is None


def test_loading_parameters_shows_the_hires_settings(window: MainWindow) -> None:
    request = GenerationRequest(
        prompt="p", seed=1, hires_upscaler="latent", hires_scale=2.5, hires_denoise=0.35
    )
    window.parameters.apply_request(request)
    group = window.parameters.hires_group
    assert group.isChecked()
    assert group.fields() == {
        "hires_upscaler": "latent",
        "hires_scale": 2.5,
        "hires_steps": 0,
        "hires_denoise": 0.35,
        "hires_upscaler_model": "sd2-community/stable-diffusion-x4-upscaler",
    }
    x4 = request.replace(hires_upscaler="x4", hires_upscaler_model="/models/my-x4")
    window.parameters.apply_request(x4)
    assert group.upscaler_combo.currentText() == "SD2 x4 upscaler"
    assert group.fields()["hires_upscaler"] == "x4"
    assert group.fields()["hires_upscaler_model"] == "/models/my-x4"  # re-runs with its upscaler
    window.parameters.apply_request(request.replace(hires_upscaler=None))
    assert not group.isChecked()


def test_variations_queue_n_images_around_the_gallery_image(
    window: MainWindow, qtbot: QtBot, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_store(data_dir, ["a lantern in fog", "a kite"])
    panel = window.gallery_panel
    panel.model.refresh()
    open_gallery(window, qtbot, 2)
    panel.rerun_requested.disconnect()  # record the jobs instead of running them
    queued: list[GenerationRequest] = []
    panel.rerun_requested.connect(lambda request, keep: queued.append(request))
    monkeypatch.setattr(VariationsDialog, "exec", lambda self: 1)
    monkeypatch.setattr(VariationsDialog, "values", lambda self: (3, 0.2))
    panel.view.setCurrentIndex(panel.model.index(0))
    entry = panel.current_entry()
    assert entry is not None
    panel.make_variations()
    assert len(queued) == 3
    assert {r.seed for r in queued} == {entry.seed}
    assert {r.variation_strength for r in queued} == {0.2}
    assert len({r.variation_seed for r in queued}) == 3  # each its own random variation seed
    assert all(r.batch_size == 1 and r.prompt == entry.request.prompt for r in queued)  # type: ignore[union-attr]


def test_variations_on_the_result_tab_queue_n_images_around_the_shown_result(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from PySide6.QtGui import QImage

    from sd21_desktop.qt.worker import SavedImage

    view = window.result_view
    button = view.buttons["variationsButton"]
    assert not button.isEnabled()  # nothing shown yet
    request = GenerationRequest(prompt="a lighthouse", seed=5, batch_size=2)
    entry = SimpleNamespace(request=request)  # the image is the batch's second: seed 6
    image = QImage(8, 8, QImage.Format.Format_RGB888)
    monkeypatch.setattr(window.gallery_panel.model, "prepend", lambda entries: None)
    monkeypatch.setattr(window, "add_recent", lambda saved, prompt: None)
    window.on_finished("job", [SavedImage(image, str(tmp_path / "b.png"), 6, 1, entry)])
    assert button.isEnabled()
    queued: list[GenerationRequest] = []
    monkeypatch.setattr(window.queue, "enqueue", lambda r, keep=-1: queued.append(r))
    monkeypatch.setattr(VariationsDialog, "exec", lambda self: 1)
    monkeypatch.setattr(VariationsDialog, "values", lambda self: (3, 0.15))
    button.click()
    assert len(queued) == 3
    assert {(r.seed, r.batch_size, r.variation_strength) for r in queued} == {(6, 1, 0.15)}
    assert len({r.variation_seed for r in queued}) == 3  # each its own random variation seed
    monkeypatch.setattr(VariationsDialog, "exec", lambda self: 0)  # cancelled: nothing queued
    button.click()
    assert len(queued) == 3
    view.show_result(image, str(tmp_path / "c.png"), "from a file")  # no request known
    assert not button.isEnabled()


def test_the_grid_tab_queues_every_cell_fills_in_and_opens_the_cell_clicked(
    window: MainWindow, recorder: WorkerRecorder, qtbot: QtBot
) -> None:
    from sd21_desktop.engine.grid import grid_layout

    panel = window.grid_panel
    panel.edits["x"].setText("seed=1,2")
    panel.edits["y"].setText("guidance=3,9")
    panel.run_button.click()
    qtbot.waitUntil(lambda: len(recorder.of("finished")) == 4, timeout=JOB_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(panel.cells) == 4, timeout=10_000)
    assert panel.status.text() == "4 of 4 cells done"
    layout = grid_layout((64, 64), panel.axes_)
    pixmap = panel.image.pixmap()
    assert (pixmap.width(), pixmap.height()) == layout.size
    shown = qimage_to_rgb_array(pixmap.toImage())
    for position, (image, _) in panel.cells.items():  # each cell painted into its own box
        left, top = layout.cell_box(*position)
        assert np.array_equal(shown[top : top + 64, left : left + 64], qimage_to_rgb_array(image))
    seeds = [
        saved.entry.request.seed for _, _, images in recorder.of("finished") for saved in images
    ]
    assert sorted(seeds) == [1, 1, 2, 2]
    left, top = layout.cell_box(1, 1, 0)
    panel.image.clicked_at.emit(left + 5, top + 5)
    opened = window.result_view.current_path
    assert opened is not None
    path = panel.cells[(1, 1, 0)][1]
    assert str(opened) == path
    assert window.tabs.currentWidget() is window.result_view


def test_a_bad_grid_axis_shows_one_clear_message(window: MainWindow) -> None:
    window.grid_panel.edits["x"].setText("colour=red")
    window.grid_panel.run_button.click()
    assert "unknown key 'colour'" in window.message_bar.text()
    assert window.queue.rowCount() == 0
