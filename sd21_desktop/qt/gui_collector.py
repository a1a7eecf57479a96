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

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 1000


class GuiThreadCollector(QObject):
    """Collects the generation whose threshold was crossed, on the thread it lives on."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guiThreadCollector")
        self.thresholds = gc.get_threshold()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)

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
    return collector
