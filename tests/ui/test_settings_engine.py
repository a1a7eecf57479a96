"""Settings → Engine: the dialog shows and applies the engine, Ray address and worker count;
settings files with a bad engine fall back to local; the window's worker switches engines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sd21_desktop.settings import AppSettings, EngineChoice, load_settings
from sd21_desktop.ui.settings_dialog import SettingsDialog


def test_the_dialog_shows_and_applies_the_engine_choice(qtbot: Any) -> None:
    settings = AppSettings(engine="ray", ray_address="10.0.0.5:6379", ray_workers=3)
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.engine_combo.currentData() == "ray"
    assert dialog.ray_address_edit.text() == "10.0.0.5:6379"
    assert dialog.ray_workers_spin.value() == 3
    assert dialog.ray_address_edit.isEnabled()
    dialog.engine_combo.setCurrentIndex(dialog.engine_combo.findData("local"))
    assert not dialog.ray_address_edit.isEnabled()  # only meaningful for Ray
    dialog.engine_combo.setCurrentIndex(dialog.engine_combo.findData("ray"))
    dialog.ray_address_edit.setText(" 192.168.1.20:6379 ")
    dialog.ray_workers_spin.setValue(0)
    dialog.apply_to(settings)
    assert (settings.engine, settings.ray_address, settings.ray_workers) == (
        "ray", "192.168.1.20:6379", 0,
    )
    assert EngineChoice.of(settings) == EngineChoice("ray", "192.168.1.20:6379", 0)
    assert dialog.ray_workers_spin.specialValueText() == "one per GPU"


def test_without_ray_the_dialog_says_how_to_install_it(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.ui import settings_dialog

    monkeypatch.setattr(settings_dialog, "ray_installed", lambda: False)
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    assert "pip install 'sd21-desktop[ray]'" in dialog.engine_note.text()
    assert not dialog.engine_note.isHidden()


def test_an_unknown_engine_in_the_settings_file_reads_as_local(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"engine": "cloud", "ray_address": 5, "ray_workers": "two"}))
    settings, notice = load_settings(path)
    assert notice is None
    assert (settings.engine, settings.ray_address, settings.ray_workers) == ("local", "", 0)


def test_the_worker_drops_its_engine_when_the_choice_changes(qapp: Any) -> None:
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.qt.worker import EngineWorker

    closed: list[str] = []

    class FakeRayEngine:
        def close(self) -> None:
            closed.append("closed")

    worker = EngineWorker(RuntimeOptions(), lambda image, record: ("", None))
    worker._engine = FakeRayEngine()
    worker.set_engine(EngineChoice())  # the same choice: kept
    assert worker.engine is not None
    worker.set_engine(EngineChoice("ray", "127.0.0.1:6379"))
    assert worker.engine is None
    assert closed == ["closed"]


def test_a_cluster_that_cannot_be_reached_fails_the_job_and_the_next_job_tries_again(
    qapp: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.errors import UserFacingError
    from sd21_desktop.qt.worker import EngineWorker
    from sd21_desktop.ray_workers import pool

    attempts: list[str | None] = []

    def unreachable(*args: Any, address: str | None = None, **kwargs: Any) -> Any:
        attempts.append(address)
        raise UserFacingError(f"Cannot connect to the Ray cluster at {address}: timed out.")

    monkeypatch.setattr(pool, "RayEngine", unreachable)
    worker = EngineWorker(
        RuntimeOptions(), lambda image, record: ("", None),
        engine_choice=EngineChoice("ray", "10.9.9.9:6379"),
    )
    failures: list[str] = []
    worker.failed.connect(lambda job, message: failures.append(message))
    request = GenerationRequest(prompt="p", width=64, height=64, steps=2)
    for job in ("a", "b"):
        worker.run_job(job, request, threading.Event())
    assert attempts == ["10.9.9.9:6379", "10.9.9.9:6379"]  # each job connects again
    assert failures == ["Cannot connect to the Ray cluster at 10.9.9.9:6379: timed out."] * 2
    assert worker.engine is None
