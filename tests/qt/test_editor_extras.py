"""Loading settings from other tools' images, the mode controls, and Help → About."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from sd21_desktop.ui.about import about_html
from sd21_desktop.ui.main_window import MainWindow
from tests.conftest import FIXTURE_IMAGES


def test_an_a1111_image_loads_its_settings_into_the_editor(
    window: MainWindow, qtbot: QtBot
) -> None:
    image = FIXTURE_IMAGES / "a1111" / "sdparsers__automatic1111_cropped.png"
    window.load_settings_from_image(str(image))
    qtbot.waitUntil(lambda: window.prompt_editor.prompt() == "photo of a duck", timeout=10_000)
    params = window.parameters
    assert window.prompt_editor.negative_prompt() == "monochrome"
    assert params.steps_spin.value() == 15
    assert params.guidance_spin.value() == 5.0
    assert params.seed_spin.value() == 235284042
    assert params.scheduler_combo.currentData() == "unipc"
    assert (params.width_spin.value(), params.height_spin.value()) == (512, 400)
    assert window.message_bar.kind == "notice"


def test_an_image_without_settings_says_so(window: MainWindow, qtbot: QtBot) -> None:
    window.prompt_editor.set_prompts("keep me", "")
    window.load_settings_from_image(str(FIXTURE_IMAGES / "_negative" / "enslo__gimp.webp"))
    qtbot.waitUntil(lambda: window.message_bar.isVisible(), timeout=10_000)
    assert window.message_bar.kind == "error"
    assert "No generation settings" in window.message_bar.label.text()
    assert window.prompt_editor.prompt() == "keep me"


def test_mode_shows_only_the_controls_it_uses(window: MainWindow) -> None:
    params = window.parameters
    form = params.form
    params.set_mode("txt2img")
    assert not form.isRowVisible(params.strength_spin)
    assert not form.isRowVisible(params.keep_unmasked_check)
    params.set_mode("img2img")
    assert form.isRowVisible(params.strength_spin)
    assert not form.isRowVisible(params.keep_unmasked_check)
    params.set_mode("inpaint")
    assert form.isRowVisible(params.strength_spin)
    assert form.isRowVisible(params.keep_unmasked_check)


def test_about_names_versions_build_and_device() -> None:
    text = about_html({"device": "CUDA: NVIDIA H100 (CUDA 12.8)"})
    assert "torch" in text
    assert "diffusers" in text
    assert "CPU build" in text  # this machine's torch is the +cpu build
    assert "NVIDIA H100" in text


def test_about_shows_the_bundle_build_when_frozen(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import json
    import sys

    (tmp_path / "build_info.json").write_text(
        json.dumps({"built": "2026-11-26T09:00:00+00:00", "platform": "linux-x86_64"})
    )
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert "2026-11-26T09:00:00+00:00 for linux-x86_64" in about_html({})
