"""Keeps an icon view where it was when rows are inserted or removed.

A :class:`QListView` in icon mode lays out every item again after any insertion or removal, in
batches when its layout mode is ``Batched``; while the first batches are laid out its scroll
range is short, so the scroll bar's value is cut down to it and the view jumps back near the
top (at 100,000 rows the layout takes a large part of a second). This remembers the item at the
top of the view before the change and scrolls back to it once the layout reaches it.
"""

from __future__ import annotations

from PySide6.QtCore import QPersistentModelIndex, QPoint, QTimer
from PySide6.QtWidgets import QAbstractItemView, QListView


class ScrollAnchor:
    def __init__(self, view: QListView) -> None:
        self.view = view
        self._anchor: QPersistentModelIndex | None = None
        model = view.model()
        model.rowsAboutToBeInserted.connect(self._remember)
        model.rowsAboutToBeRemoved.connect(self._remember)
        model.modelAboutToBeReset.connect(self._forget)  # another query starts at the top
        view.verticalScrollBar().rangeChanged.connect(self._follow)

    def _remember(self, *_args: object) -> None:
        if self._anchor is None and self.view.verticalScrollBar().value() > 0:
            index = self.view.indexAt(QPoint(self.view.gridSize().width() // 2, 4))
            if index.isValid():
                self._anchor = QPersistentModelIndex(index)

    def _forget(self) -> None:
        self._anchor = None

    def _follow(self, _low: int, high: int) -> None:
        """Each batch of the layout widens the range: back to the anchor once it is laid out."""
        anchor = self._anchor
        if anchor is None:
            return
        if not anchor.isValid():  # the item itself went away
            self._anchor = None
            return
        index = self.view.model().index(anchor.row(), 0)
        top = self.view.visualRect(index).top() + self.view.verticalScrollBar().value()
        if high >= top:
            self._anchor = None
            # After the scroll bar has finished changing (this runs inside its range change).
            QTimer.singleShot(0, lambda: self._scroll_to(anchor))

    def _scroll_to(self, anchor: QPersistentModelIndex) -> None:
        if anchor.isValid():
            index = self.view.model().index(anchor.row(), 0)
            self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtTop)
