"""A spin box for seeds from 0 to 2^64 - 1.

``QSpinBox`` holds a signed 32-bit int, so it cannot show ComfyUI's 64-bit seeds; this box keeps
the value as a Python int and only borrows ``QAbstractSpinBox``'s line edit, arrows and keys.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox, QWidget

from sd21_desktop.engine.request import MAX_SEED


class SeedBox(QAbstractSpinBox):
    """Whole numbers 0 … 2^64 - 1; typing anything else is refused as it is typed."""

    # QSpinBox's name, so the box drops in where a spin box was; an object, as Qt's int is
    # signed and 64-bit at most.
    valueChanged = Signal(object)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._value = 0
        self.lineEdit().setText("0")
        self.setToolTip(f"0 to {MAX_SEED} (2^64 - 1)")
        self.editingFinished.connect(self._commit)

    def minimum(self) -> int:
        return 0

    def maximum(self) -> int:
        return MAX_SEED

    def value(self) -> int:
        """The seed shown (text typed but not yet confirmed counts when it is a valid seed)."""
        typed = self._parse(self.text())
        return self._value if typed is None else typed

    def setValue(self, value: int) -> None:  # noqa: N802 - the Qt spin box name
        value = min(max(int(value), 0), MAX_SEED)
        changed = value != self._value
        self._value = value
        if self.text() != str(value):
            self.lineEdit().setText(str(value))
        if changed:
            self.valueChanged.emit(value)

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:
        if text == "":
            state = QValidator.State.Intermediate
        elif not text.isascii() or not text.isdigit() or int(text) > MAX_SEED:
            state = QValidator.State.Invalid
        else:
            state = QValidator.State.Acceptable
        return state, text, pos

    def fixup(self, text: str) -> str:
        return str(self._value)

    def stepBy(self, steps: int) -> None:  # noqa: N802
        self.setValue(self.value() + steps)
        self.selectAll()

    def stepEnabled(self) -> QAbstractSpinBox.StepEnabledFlag:  # noqa: N802
        value = self.value()
        flags = QAbstractSpinBox.StepEnabledFlag.StepNone
        if value > 0:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepDownEnabled
        if value < MAX_SEED:
            flags |= QAbstractSpinBox.StepEnabledFlag.StepUpEnabled
        return flags

    def _commit(self) -> None:
        typed = self._parse(self.text())
        self.setValue(self._value if typed is None else typed)

    @staticmethod
    def _parse(text: str) -> int | None:
        text = text.strip()
        if not text.isascii() or not text.isdigit():
            return None
        number = int(text)
        return number if number <= MAX_SEED else None
