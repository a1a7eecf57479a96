"""The window's start-up probe of the build and the GPU (on the engine worker), with a faked
NVIDIA driver: the CPU build points at the CUDA build in one line; Help → About says which build
runs where."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from sd21_desktop.app import create_app
from sd21_desktop.engine import flavour
from sd21_desktop.engine.flavour import BuildReport
from sd21_desktop.ui.about import about_html
from tests.engine.test_flavour import RTX, fake_proc
from tests.qt.conftest import close_window


@pytest.mark.parametrize("gpu", [RTX, None])
def test_a_cpu_build_beside_an_nvidia_gpu_says_so_at_start(
    qapp: QApplication,
    qtbot: QtBot,
    tiny_model_dir: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    gpu: str | None,
) -> None:
    monkeypatch.setattr(flavour, "torch_flavour", lambda folder=None: "cpu")
    proc = fake_proc(tmp_path, [gpu]) if gpu else tmp_path / "no-driver"
    monkeypatch.setattr(flavour, "PROC", proc)
    _, window = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
    try:
        qtbot.waitUntil(lambda: window.build is not None, timeout=10_000)
        assert window.build == BuildReport("cpu", gpu)
        bar = window.message_bar
        if gpu is None:  # no GPU: nothing to say
            assert "CUDA build" not in bar.label.text()
            return
        assert bar.kind == "notice"
        assert bar.label.text() == BuildReport("cpu", RTX).cuda_hint()
        assert "\n" not in bar.label.text()
    finally:
        close_window(window)


def test_about_says_a_cuda_build_runs_on_the_cpu_without_a_gpu() -> None:
    text = about_html({"device": "CPU (2 threads)"}, BuildReport("cuda", None))
    assert "CUDA build, running on CPU: no NVIDIA GPU found" in text
    assert "CPU (2 threads)" in text


def test_about_of_a_cpu_build_beside_a_gpu_repeats_the_hint() -> None:
    text = about_html({}, BuildReport("cpu", RTX))
    assert "CPU build, running on CPU" in text
    assert "seconds per image instead of minutes" in text


def test_message_bar_text_is_dark_on_its_light_strip_in_the_dark_theme(qapp: QApplication) -> None:
    from PySide6.QtGui import QColor, QPalette

    from sd21_desktop.ui.message_bar import MessageBar

    bar = MessageBar()
    palette = bar.label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))  # the dark theme's text
    bar.label.setPalette(palette)
    for show, colour in ((bar.show_notice, "#5f4300"), (bar.show_error, "#611a15")):
        show("a message")
        bar.label.ensurePolished()
        assert bar.label.palette().color(QPalette.ColorRole.WindowText).name() == colour
    bar.deleteLater()
