"""Cycles are collected on the GUI thread, never on a worker thread."""

from __future__ import annotations

import gc
import threading

from pytestqt.qtbot import QtBot

from sd21_desktop.qt.gui_collector import (
    GuiThreadCollector,
    collect_on_gui_thread,
    install_gui_collector,
)


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


def test_a_worker_asking_for_a_collection_gets_it_on_the_gui_thread(qtbot: QtBot) -> None:
    """What dropping a model does on the worker: its garbage is freed on the GUI thread, and
    the worker waits for that (the memory is back before the next model loads)."""
    assert install_gui_collector() is not None
    Cycle.freed_on.clear()
    answers: list[bool] = []

    def drop_a_model() -> None:
        Cycle()
        answers.append(collect_on_gui_thread(timeout_s=5.0))
        answers.append(bool(Cycle.freed_on))  # already freed when the call returns

    worker = threading.Thread(target=drop_a_model, name="worker")
    worker.start()
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=5000)
    worker.join()
    assert answers == [True, True]
    assert set(Cycle.freed_on) == {threading.main_thread().name}


def test_a_busy_gui_thread_makes_the_worker_wait_no_longer_than_its_timeout(
    qtbot: QtBot,
) -> None:
    assert install_gui_collector() is not None
    gc.collect()
    Cycle.freed_on.clear()
    answers: list[bool] = []

    def drop_a_model() -> None:
        Cycle()
        answers.append(collect_on_gui_thread(timeout_s=0.2))

    worker = threading.Thread(target=drop_a_model, name="worker")
    worker.start()
    worker.join(timeout=5)  # the GUI thread is blocked here: it cannot collect yet
    assert answers == [False]
    assert Cycle.freed_on == []  # and the worker did not collect instead
    qtbot.waitUntil(lambda: bool(Cycle.freed_on), timeout=5000)  # the queued request, later
    assert set(Cycle.freed_on) == {threading.main_thread().name}


def test_on_the_gui_thread_itself_it_collects_at_once(qtbot: QtBot) -> None:
    assert install_gui_collector() is not None
    Cycle.freed_on.clear()
    Cycle()
    assert collect_on_gui_thread() is True
    assert Cycle.freed_on == [threading.main_thread().name]
