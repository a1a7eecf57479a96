"""The main window's columns: the scrolling left column with pinned buttons, the centre (tabs over
the filmstrip) and a collapsible side panel. Small screens scroll or collapse; nothing is cut."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.ui.icons import set_icon

MINIMUM_WINDOW = QSize(1024, 600)
"""The window never asks for more (logical pixels): a 1366×768 laptop at 125 % fits."""
FIRST_RUN_SIZE = QSize(1600, 1000)


class _FittingScroll(QScrollArea):
    """A vertical scroll area as wide as its content needs (it never scrolls sideways)."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        content = self.widget()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width = (content.minimumSizeHint().width() if content is not None else 0) + bar + 2
        return QSize(width, 120)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        content = self.widget()
        hint = content.sizeHint() if content is not None else QSize(0, 0)
        return QSize(self.minimumSizeHint().width(), hint.height())


def left_column(content: QLayout, pinned: QLayout) -> QWidget:
    """``content`` scrolls vertically when the window is short; ``pinned`` stays at the bottom."""
    inner = QWidget()
    inner.setObjectName("controlsContent")
    inner.setLayout(content)
    content.setContentsMargins(2, 2, 6, 2)
    scroll = _FittingScroll()
    scroll.setObjectName("controlsScroll")
    scroll.setWidget(inner)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    column = QWidget()
    column.setObjectName("controlsPanel")
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(scroll, 1)
    layout.addLayout(pinned)
    return column


class HorizontalScroller(QScrollArea):
    """A row of tools that scrolls sideways when the window is too narrow for it (instead of
    widening the window); it is exactly as tall as its content (plus the scroll bar if shown)."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        content.installEventFilter(self)  # rows added or removed later (control units)
        self._fit_height()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            QTimer.singleShot(0, self._fit_height)  # once the layout (and new rows) settled
        return super().eventFilter(watched, event)

    def _fit_height(self) -> None:
        content = self.widget()
        if content is None:
            return
        height = content.sizeHint().height()
        if content.minimumSizeHint().width() > self.viewport().width():
            height += self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(80, self.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_height()


def centre_column(tabs: QWidget, filmstrip: QWidget) -> QSplitter:
    """The tabs take all the room; the filmstrip sits under them (drag its edge to hide it)."""
    splitter = QSplitter(Qt.Orientation.Vertical)
    splitter.setObjectName("centreSplitter")
    splitter.addWidget(tabs)
    splitter.addWidget(filmstrip)
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 0)
    splitter.setCollapsible(0, False)
    splitter.setSizes([10_000, filmstrip.maximumHeight()])  # the tabs take all the rest
    return splitter


class CollapsiblePanel(QWidget):
    """A titled side panel that folds to a narrow strip with one button to unfold it."""

    collapsed_changed = Signal(bool)

    def __init__(self, title: str, name: str, content: QWidget) -> None:
        super().__init__()
        self.setObjectName(name)
        self.content = content
        self.title = QLabel(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.toggle_button = QToolButton()
        self.toggle_button.setObjectName(f"{name}CollapseButton")
        self.toggle_button.setCheckable(True)
        self.toggle_button.setAutoRaise(True)
        self.toggle_button.toggled.connect(self.set_collapsed)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title, 1)
        header.addWidget(self.toggle_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(content, 1)
        self._expanded_width = 0
        self._title_text = title
        self._update_button()

    def is_collapsed(self) -> bool:
        return self.toggle_button.isChecked()

    def _update_button(self) -> None:
        collapsed = self.is_collapsed()
        set_icon(
            self.toggle_button,
            "chevron-double-left" if collapsed else "chevron-double-right",
            f"Show the {self._title_text.lower()}" if collapsed
            else f"Hide the {self._title_text.lower()} (its column folds to this button)",
        )

    @Slot(bool)
    def set_collapsed(self, collapsed: bool) -> None:
        if self.toggle_button.isChecked() != collapsed:
            self.toggle_button.setChecked(collapsed)  # comes back here through toggled
            return
        splitter = self.parentWidget()
        if collapsed and self.width() > 0:
            self._expanded_width = self.width()
        self.content.setVisible(not collapsed)
        self.title.setVisible(not collapsed)
        if collapsed:
            self.setMaximumWidth(self.toggle_button.sizeHint().width() + 8)
            self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        else:
            self.setMaximumWidth(16777215)
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            if isinstance(splitter, QSplitter) and self._expanded_width:
                self._give_back_width(splitter)
        self._update_button()
        self.collapsed_changed.emit(collapsed)

    def _give_back_width(self, splitter: QSplitter) -> None:
        sizes = splitter.sizes()
        index = splitter.indexOf(self)
        grow = self._expanded_width - sizes[index]
        widest = max(range(len(sizes)), key=lambda i: sizes[i] if i != index else -1)
        sizes[index] += grow
        sizes[widest] -= grow
        splitter.setSizes(sizes)


def first_run_size(screen_available: QSize) -> QSize:
    """The window's first size: 1600×1000 where it fits, else 92 % of the free screen (but not
    below the minimum where the screen has room for it, and never beyond the screen)."""
    free = screen_available
    width = min(FIRST_RUN_SIZE.width(), int(free.width() * 0.92))
    height = min(FIRST_RUN_SIZE.height(), int(free.height() * 0.92))
    return QSize(
        max(width, min(MINIMUM_WINDOW.width(), free.width())),
        max(height, min(MINIMUM_WINDOW.height(), free.height())),
    )


def fit_to_screen(window: QWidget) -> None:
    """Size and centre a window that has no saved geometry on the screen it opens on."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is None:
        window.resize(FIRST_RUN_SIZE)
        return
    available = screen.availableGeometry()
    size = first_run_size(available.size())
    window.resize(size)
    window.move(
        available.x() + (available.width() - size.width()) // 2,
        available.y() + (available.height() - size.height()) // 2,
    )
