"""Small widget helpers shared by the panels."""

from __future__ import annotations

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QToolButton


def tool_button(text: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    return button


def accept_file_drag(event: QDragEnterEvent) -> None:
    """Accept a drag that carries files (or other URLs); the drop decides what to do."""
    if event.mimeData().hasUrls():
        event.acceptProposedAction()


def dropped_files(event: QDropEvent) -> list[str]:
    """The local files of a drop, in order."""
    return [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
