"""Help inside the window: the F1 shortcut sheet, and the status bar saying why a button is off."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Keys handled inside widgets (not QActions), so they cannot be read from the window.
WIDGET_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Prompt", "Ctrl+Enter", "Generate (queues another while a job runs)"),
    ("Result", "Wheel / drag", "Zoom / pan the image"),
    ("Result", "Ctrl+drag or right-drag", "Drag the image out as its PNG file"),
    ("Canvas", "[ and ]", "Smaller / larger brush"),
    ("Canvas", "X", "Switch between painting and erasing the mask"),
    ("Canvas", "Space+drag", "Pan"),
    ("Canvas", "Ctrl+V", "Paste an image"),
    ("Gallery", "F", "Toggle favourite"),
    ("Gallery", "Ctrl+R", "Re-run the selected image exactly"),
    ("Gallery", "Delete / Ctrl+Z", "Move to the trash / undo"),
    ("Filmstrip", "Click / drag / right-click", "Show / drag to the canvas / more actions"),
)


def _native(keys: QKeySequence) -> str:
    return keys.toString(QKeySequence.SequenceFormat.NativeText)


def window_shortcuts(window: QWidget) -> list[tuple[str, str, str]]:
    """(where, keys, what) for the window's menu actions and shortcuts, then the widget keys."""
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for action in window.findChildren(QAction):
        text = action.text().replace("&", "").rstrip("…").strip()
        keys = _native(action.shortcut())
        if text and keys and (keys, text) not in seen:
            seen.add((keys, text))
            rows.append(("Window", keys, text))
    for shortcut in window.findChildren(QShortcut):
        keys, text = _native(shortcut.key()), shortcut.whatsThis()
        if text and keys and (keys, text) not in seen:
            seen.add((keys, text))
            rows.append(("Window", keys, text))
    return rows + list(WIDGET_KEYS)


class ShortcutSheet(QDialog):
    """Every keyboard shortcut, grouped by where it works (F1)."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("shortcutSheet")
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget()
        self.tree.setObjectName("shortcutTree")
        self.tree.setHeaderLabels(["Keys", "What it does"])
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        groups: dict[str, QTreeWidgetItem] = {}
        for where, keys, what in window_shortcuts(window):
            if where not in groups:
                groups[where] = QTreeWidgetItem(self.tree, [where])
                groups[where].setFirstColumnSpanned(True)
                font = groups[where].font(0)
                font.setBold(True)
                groups[where].setFont(0, font)
                groups[where].setFlags(Qt.ItemFlag.ItemIsEnabled)
            QTreeWidgetItem(groups[where], [keys, what])
        self.tree.expandAll()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(560, 520)

    def rows(self) -> list[tuple[str, str]]:
        found = []
        groups = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        for group in filter(None, groups):
            children = filter(None, (group.child(i) for i in range(group.childCount())))
            found += [(child.text(0), child.text(1)) for child in children]
        return found


class DisabledExplainer(QObject):
    """Pointing at a disabled button puts the reason it is off in the status bar."""

    def __init__(self, show: Callable[[str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.show = show
        self._reasons: dict[QWidget, Callable[[], str]] = {}

    def watch(self, widget: QWidget, reason: Callable[[], str]) -> None:
        self._reasons[widget] = reason
        widget.installEventFilter(self)
        widget.destroyed.connect(lambda: self._reasons.pop(widget, None))

    def reason(self, widget: QWidget) -> str:
        explain = self._reasons.get(widget)
        return explain() if explain is not None and not widget.isEnabled() else ""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Enter and isinstance(watched, QWidget):
            text = self.reason(watched)
            if text:
                self.show(text)
        return False
