"""Settings and prompt history survive a restart; bad files fall back with a notice."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from PySide6.QtCore import QByteArray
from pytestqt.qtbot import QtBot

from sd21_desktop.app import create_app
from sd21_desktop.prompt_history import PromptHistory
from sd21_desktop.settings import AppSettings, load_settings, save_settings
from tests.qt.conftest import close_window


def test_parameters_prompts_and_geometry_persist_across_restarts(
    qapp: object, qtbot: QtBot, data_dir: Path, tiny_model_dir: Path
) -> None:
    _, window = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
    window.show()
    window.prompt_editor.set_prompts("a persistent prompt", "no fog")
    params = window.parameters
    params.steps_spin.setValue(33)
    params.guidance_spin.setValue(5.5)
    params.set_size(512, 640)
    params.scheduler_combo.setCurrentIndex(params.scheduler_combo.findData("euler_a"))
    window.resize(1500, 900)
    window.splitter.setSizes([300, 600, 200])
    sizes = window.splitter.sizes()
    close_window(window)

    _, again = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
    again.show()
    try:
        assert again.prompt_editor.prompt() == "a persistent prompt"
        assert again.prompt_editor.negative_prompt() == "no fog"
        assert again.parameters.steps_spin.value() == 33
        assert again.parameters.guidance_spin.value() == 5.5
        assert (again.parameters.width_spin.value(), again.parameters.height_spin.value()) == (
            512,
            640,
        )
        assert again.parameters.scheduler_combo.currentData() == "euler_a"
        # The offscreen screen is small, so restoring clamps the size: check the stored geometry
        # itself is a valid one rather than the clamped result.
        saved = json.loads((data_dir / "settings.json").read_text())["window_geometry"]
        assert again.restoreGeometry(QByteArray(base64.b64decode(saved)))
        assert json.loads((data_dir / "settings.json").read_text())["splitter_sizes"] == sizes
    finally:
        close_window(again)


def test_wrongly_typed_settings_take_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"steps": "many", "guidance_scale": 9, "seed_mode": "chaos", "extra": 1}')
    settings, notice = load_settings(path)
    assert notice is None
    assert settings.steps == AppSettings().steps
    assert settings.guidance_scale == 9.0
    assert settings.seed_mode == "random"
    save_settings(path, settings)
    assert load_settings(path)[0] == settings


def test_prompt_history_is_persisted_newest_first_and_searchable(tmp_path: Path) -> None:
    history = PromptHistory(tmp_path / "history.json")
    for prompt in ("a red fox", "a blue whale", "a red fox", "  "):
        history.add(prompt, "")
    history.save()
    again = PromptHistory(tmp_path / "history.json")
    assert [pair.prompt for pair in again.entries] == ["a red fox", "a blue whale"]
    assert [pair.prompt for pair in again.search("WHALE")] == ["a blue whale"]
    (tmp_path / "broken.json").write_text("[{]")
    assert PromptHistory(tmp_path / "broken.json").entries == []
