"""The gallery list model: entries of the current query, newest first, fetched page by page
from the gallery thread, with thumbnails from :class:`ThumbnailCache`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QPixmap

from sd21_desktop.gallery.entries import GalleryEntry, GalleryQuery
from sd21_desktop.qt.thumbnails import THUMBNAIL_SIDE, ThumbnailCache

PAGE_SIZE = 200
AnyIndex = QModelIndex | QPersistentModelIndex


class GalleryModel(QAbstractListModel):
    EntryRole = Qt.ItemDataRole.UserRole + 1
    EntryIdRole = Qt.ItemDataRole.UserRole + 2

    page_requested = Signal(int, object, int, int)  # token, query, offset, limit → service
    loaded = Signal()  # a page arrived (the first one after a new query, or more)

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.query = GalleryQuery()
        self._entries: list[GalleryEntry] = []
        self._rows: dict[int, int] = {}
        self.total = 0
        self._token = 0
        self._loading = False
        self._placeholder = QPixmap(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        self._placeholder.fill(QColor("#3a3a3a"))
        thumbnails.thumbnail_ready.connect(self._on_thumbnail)

    # query -----------------------------------------------------------------------------------
    def set_query(self, query: GalleryQuery) -> None:
        """Show another query; the rows arrive asynchronously (``loaded``)."""
        self.query = query
        self.refresh()

    def refresh(self) -> None:
        self._token += 1
        self._loading = True
        self.page_requested.emit(self._token, self.query, 0, PAGE_SIZE)

    @Slot(int, list, int, int)
    def on_page_loaded(
        self, token: int, entries: list[GalleryEntry], total: int, offset: int
    ) -> None:
        if token != self._token:
            return  # an answer to an older query
        self._loading = False
        if offset == 0:
            self.beginResetModel()
            self._entries = list(entries)
            self.total = total
            self._reindex()
            self.endResetModel()
        else:
            start = len(self._entries)
            fresh = [entry for entry in entries if entry.id not in self._rows]
            if fresh:
                self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
                self._entries.extend(fresh)
                self._reindex()
                self.endInsertRows()
            self.total = total
        self.loaded.emit()

    def _reindex(self) -> None:
        self._rows = {entry.id: row for row, entry in enumerate(self._entries)}

    # lazy paging -----------------------------------------------------------------------------
    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        return not parent.isValid() and not self._loading and len(self._entries) < self.total

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if self.canFetchMore(parent):
            self._loading = True
            self.page_requested.emit(self._token, self.query, len(self._entries), PAGE_SIZE)

    # model -----------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._entries)

    def entry(self, row: int) -> GalleryEntry | None:
        return self._entries[row] if 0 <= row < len(self._entries) else None

    def row_of(self, entry_id: int) -> int | None:
        return self._rows.get(entry_id)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.thumbnails.get(entry)
            return pixmap if pixmap is not None else self._placeholder
        if role == Qt.ItemDataRole.DisplayRole:
            star = "★ " if entry.favourite else ""
            return f"{star}{entry.seed if entry.seed is not None else entry.file_name}"
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            prompt = entry.prompt or "(no prompt)"
            return f"{prompt}\n{entry.width}×{entry.height} · {entry.model or 'unknown model'}"
        if role == self.EntryRole:
            return entry
        if role == self.EntryIdRole:
            return entry.id
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]  # noqa: N802
        """Dragging entries out gives other programs the PNG files (metadata included)."""
        mime = QMimeData()
        rows = sorted({index.row() for index in indexes if index.isValid()})
        mime.setUrls([QUrl.fromLocalFile(str(self._entries[row].path)) for row in rows])
        return mime

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction

    # updates ---------------------------------------------------------------------------------
    def _matches_everything(self) -> bool:
        return self.query == GalleryQuery()

    def prepend(self, entries: list[GalleryEntry]) -> None:
        """New images go first when the view shows everything; otherwise run the query again."""
        if not entries:
            return
        if not self._matches_everything():
            self.refresh()
            return
        fresh = [entry for entry in reversed(entries) if entry.id not in self._rows]
        if not fresh:
            return
        self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
        self._entries[0:0] = sorted(fresh, key=lambda e: (e.created, e.id), reverse=True)
        self.total += len(fresh)
        self._reindex()
        self.endInsertRows()

    @Slot(list)
    def on_entries_changed(self, entries: list[GalleryEntry]) -> None:
        """Favourite, delete, restore: update rows in place; drop rows the query hides now."""
        for entry in entries:
            row = self._rows.get(entry.id)
            leaves = entry.deleted != self.query.in_trash or (
                self.query.favourites_only and not entry.favourite
            )
            if row is None:
                if not leaves:
                    self.refresh()
                    return
                continue
            if leaves:
                self.beginRemoveRows(QModelIndex(), row, row)
                self._entries.pop(row)
                self.total -= 1
                self._reindex()
                self.endRemoveRows()
            else:
                self._entries[row] = entry
                index = self.index(row)
                self.dataChanged.emit(index, index)

    @Slot(int)
    def _on_thumbnail(self, entry_id: int) -> None:
        row = self._rows.get(entry_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
