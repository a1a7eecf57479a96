"""Cycles are collected on the GUI thread, never on a worker thread."""

from __future__ import annotations

import gc
import threading

from pytestqt.qtbot import QtBot

from sd21_desktop.qt.gui_collector import GuiThreadCollector, install_gui_collector


class Cycle:
    freed_on: list[str] = []

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        Cycle.freed_on.append(threading.current_thread().name)


def test_automatic_collection_is_off_and_the_collector_is_installed_once(qtbot: QtBot) -> None:
    first = install_gui_collector()
    assert first is not None
    assert install_gui_collector() is first
    assert not gc.isenabled()
    assert first.timer.isActive()


def test_garbage_made_on_a_worker_thread_is_freed_on_the_gui_thread(qtbot: QtBot) -> None:
    collector = install_gui_collector()
    assert collector is not None
    Cycle.freed_on.clear()

    def make_garbage() -> None:
        for _ in range(5000):  # far past generation 0's threshold: a worker would collect
            Cycle()

    worker = threading.Thread(target=make_garbage, name="worker")
    worker.start()
    worker.join()
    assert Cycle.freed_on == []  # nothing collected on the worker
    qtbot.waitUntil(lambda: len(Cycle.freed_on) > 0, timeout=5000)
    gc.collect()
    assert set(Cycle.freed_on) == {threading.main_thread().name}


def test_check_collects_the_oldest_generation_over_its_threshold(qtbot: QtBot) -> None:
    collector = GuiThreadCollector()
    gc.collect()
    assert collector.check() is None
    for _ in range(collector.thresholds[0] + 10):
        Cycle()
    assert collector.check() == 0
