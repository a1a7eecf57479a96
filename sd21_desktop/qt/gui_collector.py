"""The cyclic garbage collector, run on the GUI thread only.

Python collects reference cycles in whichever thread crosses a generation's threshold: often
the worker thread, in the middle of a job. A PySide object in such a cycle then has its C++
destructor run on a thread it does not live on, and Qt is left holding a timer or posted event
for the freed object, which the GUI thread later delivers into freed memory. (Seen as heap
corruption in a test that ran a depth job in one window and an upscale in the next; valgrind
showed ``QCoreApplication::notifyInternal2`` reading a freed block.) So automatic collection is
switched off and a timer on the GUI thread collects instead, by the interpreter's own thresholds,
as pyqtgraph's ``GarbageCollector`` does.
"""

from __future__ import annotations

import gc
import threading

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot

INTERVAL_MS = 1000
REQUEST_TIMEOUT_S = 10.0
"""How long a worker waits for the GUI thread's collection (a GUI thread busy closing the
window, waiting for the worker, must not deadlock it: the timer collects later instead)."""


class GuiThreadCollector(QObject):
    """Collects the generation whose threshold was crossed, on the thread it lives on."""

    collect_requested = Signal(object)
    """From another thread: collect everything now, then set the ``threading.Event`` carried."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guiThreadCollector")
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.collect_requested.connect(self.collect_all)

    @Slot(object)
    def collect_all(self, done: threading.Event) -> None:
        gc.collect()
        done.set()

    def start(self, interval_ms: int = INTERVAL_MS) -> None:
        gc.disable()
        self.timer.start(interval_ms)

    def check(self) -> int | None:
        """Collect the oldest generation over its threshold; which one, or None."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return generation
        return None


_installed: list[GuiThreadCollector] = []
"""The running collector, for other threads (``findChild`` walks the application's children,
which only the GUI thread may do safely)."""


def install_gui_collector() -> GuiThreadCollector | None:
    """Start the application's collector once (None without a Qt application)."""
    app = QCoreApplication.instance()
    if app is None:
        return None
    existing = app.findChild(GuiThreadCollector, "guiThreadCollector")
    if isinstance(existing, GuiThreadCollector):
        return existing
    collector = GuiThreadCollector(app)
    collector.start()
    _installed[:] = [collector]
    return collector


def collect_on_gui_thread(timeout_s: float = REQUEST_TIMEOUT_S) -> bool:
    """A full collection on the GUI thread, waited for: what a worker calls where it would call
    ``gc.collect()`` (dropping a model, to have its memory back before the next one loads).
    Without a running collector it collects here. False when the GUI thread did not get to it
    in time; the garbage then waits for the GUI thread's timer, never collected on this one."""
    collector = next((c for c in _installed if shiboken6.isValid(c)), None)
    if collector is None or QThread.currentThread() == collector.thread():
        gc.collect()
        return True
    done = threading.Event()
    collector.collect_requested.emit(done)
    return done.wait(timeout_s)
