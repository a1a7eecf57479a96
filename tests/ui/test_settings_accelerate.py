"""The Settings dialog offers every accelerate choice and writes the chosen one back."""

from __future__ import annotations

from typing import Any

from sd21_desktop.engine.device import ACCELERATE_CHOICES
from sd21_desktop.settings import AppSettings
from sd21_desktop.ui.settings_dialog import SettingsDialog


def test_the_dialog_shows_and_applies_the_accelerate_choice(qtbot: Any) -> None:
    settings = AppSettings(accelerate="openvino")
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    combo = dialog.accelerate_combo
    assert [combo.itemText(i) for i in range(combo.count())] == list(ACCELERATE_CHOICES)
    assert combo.currentText() == "openvino"
    combo.setCurrentText("auto")
    dialog.apply_to(settings)
    assert settings.accelerate == "auto"
