"""Remembering the layout: every named splitter's position, the side panel's fold and which
option groups are open, in the app's settings (restored at the next start)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QSplitter, QWidget

from sd21_desktop.settings import AppSettings
from sd21_desktop.ui.parameter_widgets import Section

MAIN_SPLITTER = "mainSplitter"  # kept in settings.splitter_sizes, as before


def _encode(data: QByteArray) -> str:
    return base64.b64encode(bytes(data.data())).decode()


def _splitters(root: QWidget) -> list[QSplitter]:
    return [
        splitter
        for splitter in root.findChildren(QSplitter)
        if splitter.objectName() and splitter.objectName() != MAIN_SPLITTER
    ]


def store_layout(
    root: QWidget, sections: Mapping[str, Section], collapsed: bool, settings: AppSettings
) -> None:
    settings.splitter_states = {s.objectName(): _encode(s.saveState()) for s in _splitters(root)}
    settings.expanded_sections = {name: s.is_expanded() for name, s in sections.items()}
    settings.queue_collapsed = collapsed


def restore_layout(
    root: QWidget, sections: Mapping[str, Section], settings: AppSettings
) -> None:
    """Splitters and open groups as they were; a state that does not decode is skipped."""
    for splitter in _splitters(root):
        state = settings.splitter_states.get(splitter.objectName())
        if state:
            try:
                splitter.restoreState(QByteArray(base64.b64decode(state)))
            except ValueError:
                continue
    for name, section in sections.items():
        if settings.expanded_sections.get(name, False):
            section.expand()
        else:
            section.collapse()
