"""Guards against a PySide6 build that corrupts reference counts (6.12.0 on Python < 3.12).

Such a build lowers the count of None/True on every void call and signal emit; the app then
aborts with "deallocating None" after a few thousand repaints. Run in a subprocess so that a
crash fails this test instead of the whole session.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication([])
label = QLabel()
class Emitter(QObject):
    fired = Signal(bool)
emitter = Emitter()
none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(2000):
    label.setObjectName("x")
    label.update()
    emitter.fired.emit(True)
print(sys.getrefcount(None) - none_before, sys.getrefcount(True) - true_before)
"""


def test_pyside_keeps_reference_counts_of_none_and_true() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    none_delta, true_delta = (int(part) for part in done.stdout.split())
    assert abs(none_delta) < 100, done.stdout
    assert abs(true_delta) < 100, done.stdout
