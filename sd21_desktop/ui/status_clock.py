"""How long the status bar's "…" message has been standing: a waiting user sees time pass.

A first conversion for ``--accelerate openvino`` takes minutes (166 s at 512², 729 s at 768² on
a 2-core CPU) before the first step reports progress; so do a first model load and the start of
PyTorch. Their status texts end in "…"; this label counts the seconds beside them, from 2 s on,
and goes away when another status or the first step's progress arrives.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QTimer, Slot
from PySide6.QtWidgets import QLabel, QWidget

SHOW_AFTER_S = 2


def minutes_seconds(seconds: float) -> str:
    """``m:ss``: the status bar's way of saying a duration (the clock here, the ETA beside it)."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class StatusClock(QLabel):
    def __init__(self, parent: QWidget | None = None, show_after_s: int = SHOW_AFTER_S) -> None:
        super().__init__(parent)
        self.setObjectName("statusClock")
        self.setAccessibleName("Time spent on the current status")
        self.setToolTip("How long the status on the left has been in progress")
        self.show_after_s = show_after_s
        self._since = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._tick)
        self.hide()

    def follow(self, status: str) -> None:
        """A new status: count from now if it is still going on ("…"), else stop."""
        if not status.endswith("…"):
            self.stop()
            return
        self._since.start()
        self._timer.start()
        self._tick()

    @Slot()
    def stop(self) -> None:
        self._timer.stop()
        self.hide()

    @Slot()
    def _tick(self) -> None:
        seconds = round(self._since.elapsed() / 1000)  # a tick may land just short of it
        if seconds < self.show_after_s:
            self.hide()
            return
        self.setText(minutes_seconds(seconds))
        self.show()
