"""A list of the LoRAs and embeddings found in their folders; a click inserts one."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

_ROLE = Qt.ItemDataRole.UserRole


def insertion_text(kind: str, name: str) -> str:
    """What a click puts in the prompt: ``<lora:name:1>`` or the embedding's name."""
    return f"<lora:{name}:1>" if kind == "lora" else name


class NetworksPanel(QWidget):
    insert_requested = Signal(str)
    rescan_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networksPanel")
        self.list = QListWidget()
        self.list.setObjectName("networksList")
        self.list.setAccessibleName("LoRAs and embeddings")
        self.list.setToolTip("Click to insert into the prompt")
        self.list.itemClicked.connect(self._on_clicked)
        refresh = QToolButton()
        refresh.setObjectName("networksRefreshButton")
        refresh.setText("↻")
        refresh.setToolTip("Look in the folders again")
        refresh.clicked.connect(self.rescan_requested)
        header = QHBoxLayout()
        header.addWidget(QLabel("<b>LoRA / embeddings</b>"))
        header.addStretch(1)
        header.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.list)

    def set_entries(self, entries: list[Any]) -> None:
        self.list.clear()
        for entry in entries:
            label = "LoRA" if entry.kind == "lora" else "TI"
            detail = ""
            if entry.kind == "embedding":
                detail = " (unreadable)" if entry.vectors is None else f" ({entry.vectors} tok)"
            item = QListWidgetItem(f"{label}  {entry.name}{detail}")
            item.setData(_ROLE, insertion_text(entry.kind, entry.name))
            item.setToolTip(f"{entry.size / 1_048_576:.1f} MB — click to insert")
            self.list.addItem(item)
        if not entries:
            empty = QListWidgetItem("(none: put files in the LoRA / embeddings folders)")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(empty)

    @Slot(QListWidgetItem)
    def _on_clicked(self, item: QListWidgetItem) -> None:
        text = item.data(_ROLE)
        if text:
            self.insert_requested.emit(str(text))
