"""A non-modal message strip at the top of the window: errors and notices that never block."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from sd21_desktop.ui.widgets import tool_button

# (background, text, border). The text colour is set on the label itself: a style sheet's colour
# does not reach child widgets, whose palette (light text in the dark theme) would otherwise win.
_STYLES = {
    "error": ("#fdecea", "#611a15", "#f5c2c0"),
    "notice": ("#fff8e1", "#5f4300", "#ffe08a"),
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setAccessibleName("Messages")
        self.label = QLabel()
        self.label.setObjectName("messageLabel")
        self.label.setWordWrap(True)
        close = tool_button("✕")
        close.setAccessibleName("Dismiss message")
        close.setToolTip("Dismiss this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.kind = ""
        self.hide()

    @Slot(str)
    def show_error(self, text: str) -> None:
        self._show(text, "error")

    @Slot(str)
    def show_notice(self, text: str) -> None:
        """Notices add up while the bar is open (a job can have several); errors replace."""
        if not self.isHidden() and self.kind == "notice" and text not in self.label.text():
            text = f"{self.label.text()}\n{text}"
        self._show(text, "notice")

    def _show(self, text: str, kind: str) -> None:
        self.kind = kind
        background, colour, border = _STYLES[kind]
        self.setStyleSheet(
            f"#messageBar {{ background: {background}; border: 1px solid {border}; "
            f"border-radius: 4px; }} #messageBar QLabel {{ color: {colour}; }}"
        )
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""
