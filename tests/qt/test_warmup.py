"""Loading torch after start-up without freezing the window (qt/warmup.py)."""

from __future__ import annotations

import _imp
import gc
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from sd21_desktop.qt import warmup
from sd21_desktop.qt.gui_collector import install_gui_collector
from sd21_desktop.qt.warmup import STAGES, WarmUp, run_stage
from sd21_desktop.ui.main_window import MainWindow
from tests.conftest import REPO_ROOT

_PROBE = textwrap.dedent(
    """
    import threading, time
    from sd21_desktop.qt.warmup import preload_native_libraries

    done = threading.Event()
    result = {}

    def load():
        started = time.perf_counter()
        result["libraries"] = preload_native_libraries()
        result["seconds"] = time.perf_counter() - started
        done.set()

    ticks = 0
    threading.Thread(target=load).start()
    while not done.is_set():  # this thread needs the GIL for every turn of the loop
        ticks += 1
        time.sleep(0.001)
    import torch  # finds the libraries loaded
    assert float(torch.ones(3).sum()) == 3.0
    print(ticks, result["seconds"], ",".join(result["libraries"]))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="torch loads its own DLLs on Windows")
def test_torch_libraries_load_while_the_main_thread_keeps_running() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, cwd=REPO_ROOT,
        timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ticks, seconds, libraries = done.stdout.split()
    assert "libtorch_python" in libraries
    # With the GIL held for the whole load (ctypes.CDLL, or the import itself) the loop above
    # gets no turn until it ends; here it keeps turning.
    assert int(ticks) >= 5, f"{ticks} turns in {float(seconds):.2f}s"


_COLLECTOR = textwrap.dedent(
    """
    import gc
    from sd21_desktop.qt.warmup import collector_paused

    runs = []
    gc.callbacks.append(lambda phase, info: runs.append(info["generation"]))
    frozen = gc.get_freeze_count()
    with collector_paused():
        paused = not gc.isenabled()
        made = [[n] for n in range(200_000)]  # would start many collections, a full one too
    print(paused, gc.isenabled(), runs, gc.get_freeze_count() - frozen >= 200_000)
    gc.disable()
    with collector_paused():
        pass
    print(gc.isenabled())
    """
)


def test_imports_run_without_the_collector_and_what_they_made_is_frozen() -> None:
    # A full collection walks every object with the GIL held: after the imports, ~450k of them
    # and 0.1-0.3 s a pass. None runs during a stage, and later ones skip what it made.
    done = subprocess.run(
        [sys.executable, "-c", _COLLECTOR], capture_output=True, text=True, cwd=REPO_ROOT,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:2] == ["True True [] True", "False"]


def test_libraries_load_with_the_import_lock_held(monkeypatch: pytest.MonkeyPatch) -> None:
    # A thread importing an extension while dlopen holds the loader's lock would wait for it
    # with the GIL held; with the import lock held it waits where it lets the GIL go.
    held: list[bool] = []

    def dlopen(path: bytes, mode: int) -> int:
        held.append(_imp.lock_held())
        return 1

    monkeypatch.setattr(warmup, "_loaded", [])
    monkeypatch.setattr(warmup, "_libc_dlopen", lambda: dlopen)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    if warmup.torch_library_folder() is None:
        pytest.skip("torch is not installed")
    assert len(warmup.preload_native_libraries()) == len(held) >= 1
    assert all(held)
    assert not _imp.lock_held()


def test_an_import_waits_for_the_libraries_without_the_gil(tmp_path: Path) -> None:
    (tmp_path / "sd21_waiting_module.py").write_text("VALUE = 1\n")
    sys.path.insert(0, str(tmp_path))
    imported = threading.Event()

    def importer() -> None:
        import sd21_waiting_module  # noqa: F401

        imported.set()

    try:
        with warmup._imports_waiting():
            thread = threading.Thread(target=importer)
            thread.start()
            # This thread keeps running Python while the other waits (a wait holding the GIL
            # would hang here), and the import waits for the libraries.
            turns = sum(1 for _ in range(200_000))
            assert not imported.wait(0.3)
        thread.join(10)
        assert imported.is_set()
        assert turns == 200_000
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sd21_waiting_module", None)


def test_unknown_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown warm-up stage"):
        run_stage("everything")


def test_stages_wait_until_the_user_pauses(qtbot: QtBot) -> None:
    warm_up = WarmUp(idle_s=0.4)
    requested: list[str] = []

    def worker(stage: str) -> None:  # a worker that finishes each stage at once
        requested.append(stage)
        QTimer.singleShot(0, lambda: warm_up.on_stage_done(stage))

    warm_up.stage_requested.connect(worker)
    edit = QLineEdit()
    qtbot.addWidget(edit)
    edit.show()
    typing = QTimer()
    typing.setInterval(60)
    typing.timeout.connect(lambda: qtbot.keyClick(edit, Qt.Key.Key_A))
    typing.start()
    warm_up.start()
    qtbot.wait(900)
    assert requested == ["native"]  # loading libraries releases the GIL: no need to wait
    typing.stop()
    with qtbot.waitSignal(warm_up.finished, timeout=5000):
        pass
    assert requested == list(STAGES)
    assert warm_up.done == list(STAGES)
    assert len(edit.text()) >= 10


def test_the_app_warms_up_then_loads_the_model(
    window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.qt import warmup

    # as in a fresh process: an earlier test's warm-up (its freeze undone when its window
    # closed) must not make this one skip the stages
    monkeypatch.setattr(warmup, "_imported", set())
    controller = window.controller  # type: ignore[attr-defined]
    with qtbot.waitSignal(controller.preload_requested, timeout=120_000) as preload:
        controller.start_warm_up()
    assert controller.warm_up.done == list(STAGES)
    assert preload.args == [window.parameters.model()]
    assert "diffusers" in sys.modules
    collector = install_gui_collector()  # the window's: the warm-up must not turn collection on
    assert collector is not None
    assert collector.timer.isActive()
    assert not gc.isenabled()  # cycles are collected on the GUI thread (qt/gui_collector.py)
    assert gc.get_freeze_count() > 100_000  # the imports' objects, out of the collector's way
