"""A searchable list of past prompts."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.prompt_history import PromptHistory, PromptPair


class HistoryDialog(QDialog):
    def __init__(self, history: PromptHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Prompt history")
        self.history = history
        self.chosen: PromptPair | None = None
        self.search = QLineEdit(placeholderText="Search prompts…")
        self.search.setObjectName("historySearchEdit")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("historyList")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.search.textChanged.connect(self._fill)
        self.list.itemActivated.connect(lambda _item: self.accept())
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.resize(560, 420)
        self._fill("")

    @Slot(str)
    def _fill(self, text: str) -> None:
        self.list.clear()
        for pair in self.history.search(text):
            item = QListWidgetItem(pair.prompt.replace("\n", " "))
            item.setData(Qt.ItemDataRole.UserRole, pair)
            item.setToolTip(f"{pair.prompt}\n\nNegative: {pair.negative_prompt}")
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def accept(self) -> None:
        item = self.list.currentItem()
        self.chosen = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        super().accept()
