"""The gallery list model: entries of the current query, newest first, fetched page by page
from the gallery thread, with thumbnails from :class:`ThumbnailCache`.

It holds only the rows scrolled to so far, and of those only about :data:`KEEP_FULL` whole
entries near where the view last looked; rows farther away shrink to a stub (id, time, flags)
and are fetched again if the view comes back, so memory stays bounded at 100,000 rows and more.
``total`` is the query's count once known (a large count arrives after the first page,
``count_loaded``). What the background reconcile finds is merged in place, so paging by offset
stays right and the view keeps its scroll position.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
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
KEEP_FULL = 4000
"""Whole entries kept (about 2 KB each); the rest of the rows scrolled past are stubs."""
AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class _Stub:
    """A row scrolled far away: what the order and the merges need; the rest comes again."""

    id: int
    created: float
    deleted: bool
    favourite: bool


Row = GalleryEntry | _Stub


def _newest_first(entry: Row) -> tuple[float, int]:
    """The sort key of the list (ascending key = newest first, like the store's ORDER BY)."""
    return (-entry.created, -entry.id)


class GalleryModel(QAbstractListModel):
    EntryRole = Qt.ItemDataRole.UserRole + 1
    EntryIdRole = Qt.ItemDataRole.UserRole + 2

    page_requested = Signal(int, object, int, int)  # token, query, offset, limit → service
    loaded = Signal()  # a page arrived (the first one after a new query, or more), or a count

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.query = GalleryQuery()
        self._entries: list[Row] = []
        self._full = 0
        """How many rows hold a whole entry (not a stub)."""
        self._refetching: set[int] = set()
        self._rows: dict[int, int] = {}
        self.total = 0
        self.counted = True
        """False while ``total`` is only what has been loaded (the count is on its way)."""
        self._more = False
        self._window = 0
        """Rows brought in by pages (what the view scrolled to)."""
        self._stale = False
        self._token = 0
        self._loading = False
        self.on_token: Any = None
        """Called with each new page token (the service's ``latest_token`` follows it)."""
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
        self._refetching.clear()
        if self.on_token is not None:
            self.on_token(self._token)
        self._loading = True
        self.page_requested.emit(self._token, self.query, 0, PAGE_SIZE)

    @Slot(int, list, int, int)
    def on_page_loaded(
        self, token: int, entries: list[GalleryEntry], total: int, offset: int
    ) -> None:
        if token != self._token:
            return  # an answer to an older query
        if offset in self._refetching:
            self._restore(entries, offset)
            return
        self._loading = False
        self._more = len(entries) >= PAGE_SIZE
        if offset == 0:
            self.beginResetModel()
            self._entries = list(entries)
            self.counted = total >= 0
            self.total = total if total >= 0 else len(entries)
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
            if not self.counted:
                self.total = max(self.total, len(self._entries))
        self._window = len(self._entries)
        self._full = len(entries) if offset == 0 else self._full + len(entries)
        self._compact(offset)
        self.loaded.emit()

    def _restore(self, entries: list[GalleryEntry], offset: int) -> None:
        """A page fetched again for stub rows: whole entries back in their rows."""
        self._refetching.discard(offset)
        for row, entry in enumerate(entries, start=offset):
            if row < len(self._entries) and self._entries[row].id == entry.id:
                if isinstance(self._entries[row], _Stub):
                    self._full += 1
                self._entries[row] = entry
        last = min(offset + len(entries), len(self._entries)) - 1
        if last >= offset:
            self.dataChanged.emit(self.index(offset), self.index(last))
        self._compact(offset)

    def _compact(self, around: int) -> None:
        """Past :data:`KEEP_FULL` whole entries, rows far from ``around`` become stubs (down to
        half, so this scan runs once every several pages)."""
        if self._full <= KEEP_FULL + PAGE_SIZE:
            return
        keep = range(around - KEEP_FULL // 4, around + KEEP_FULL // 4 + PAGE_SIZE)
        for row, entry in enumerate(self._entries):
            if row not in keep and isinstance(entry, GalleryEntry):
                self._entries[row] = _Stub(entry.id, entry.created, entry.deleted, entry.favourite)
                self._full -= 1

    @Slot(int, int)
    def on_count_loaded(self, token: int, total: int) -> None:
        if token == self._token:
            self.counted, self.total = True, total
            self.loaded.emit()

    def _reindex(self) -> None:
        self._rows = {entry.id: row for row, entry in enumerate(self._entries)}

    # lazy paging -----------------------------------------------------------------------------
    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        if parent.isValid() or self._loading:
            return False
        return len(self._entries) < self.total if self.counted else self._more

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if self.canFetchMore(parent):
            self._loading = True
            self.page_requested.emit(self._token, self.query, len(self._entries), PAGE_SIZE)

    # model -----------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._entries)

    def entry(self, row: int) -> GalleryEntry | None:
        """The entry of ``row``; None past the end or while a far row is fetched again."""
        found = self._entries[row] if 0 <= row < len(self._entries) else None
        return found if isinstance(found, GalleryEntry) else None

    def row_of(self, entry_id: int) -> int | None:
        return self._rows.get(entry_id)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if isinstance(entry, _Stub):
            self._refetch(index.row())
            return self._placeholder if role == Qt.ItemDataRole.DecorationRole else None
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

    def _refetch(self, row: int) -> None:
        offset = row - row % PAGE_SIZE
        if offset not in self._refetching:
            self._refetching.add(offset)
            self.page_requested.emit(self._token, self.query, offset, PAGE_SIZE)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        base = super().flags(index)
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else base

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # type: ignore[override]  # noqa: N802
        """Dragging entries out gives other programs the PNG files (metadata included)."""
        mime = QMimeData()
        rows = sorted({index.row() for index in indexes if index.isValid()})
        entries = [self.entry(row) for row in rows]
        mime.setUrls([QUrl.fromLocalFile(str(e.path)) for e in entries if e is not None])
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

    # the background reconcile ---------------------------------------------------------------
    def _simple(self) -> bool:
        """The query is decided by the trash and favourite flags alone (checked here)."""
        query = self.query
        return query == GalleryQuery(in_trash=query.in_trash, favourites_only=query.favourites_only)

    def _shows(self, entry: GalleryEntry, deleted: bool | None = None) -> bool:
        in_trash = entry.deleted if deleted is None else deleted
        return in_trash == self.query.in_trash and (
            entry.favourite or not self.query.favourites_only
        )

    @Slot(list, list, list, list)
    def on_reconciled(
        self,
        added: list[GalleryEntry],
        changed: list[GalleryEntry],
        moved: list[GalleryEntry],
        removed: list[tuple[int, bool]],
    ) -> None:
        """Merge what the reconcile found: rows go in at their place in the order, out, or
        change in place. A query this model cannot check itself is run again at the end."""
        for entry in moved:  # a new path, the same place in the order
            row = self._rows.get(entry.id)
            if row is not None:
                self._entries[row] = entry
                self.thumbnails.forget(entry.id)  # one that failed while the file moved
        if not self._simple():
            self._stale = self._stale or bool(added or changed or removed)
            return
        counted_out = sum(was_deleted == self.query.in_trash for _, was_deleted in removed)
        counted_out += sum(self._shows(entry, deleted=not entry.deleted) for entry in changed)
        gone = {entry_id for entry_id, _ in removed} | {entry.id for entry in changed}
        self._remove_rows(sorted((self._rows[i] for i in gone if i in self._rows), reverse=True))
        self.total -= counted_out
        incoming = [entry for entry in added + changed if self._shows(entry)]
        self._insert_sorted(sorted(incoming, key=_newest_first))
        self._trim()
        self.total = max(self.total, len(self._entries))
        self.loaded.emit()

    def on_reconcile_finished(self) -> None:
        if self._stale:
            self._stale = False
            self.refresh()

    def _remove_rows(self, rows: list[int]) -> None:
        """Remove these rows (highest first), then index the rest once."""
        for row in rows:
            self.beginRemoveRows(QModelIndex(), row, row)
            self._entries.pop(row)
            self.endRemoveRows()
        if rows:
            self._reindex()

    def _insert_sorted(self, entries: list[GalleryEntry]) -> None:
        """Insert each at its place in "newest first"; one past the loaded rows while more are
        still to load only counts (it comes with its page)."""
        inserted = False
        for entry in entries:
            if entry.id in self._rows:
                continue
            row = bisect.bisect_left(self._entries, _newest_first(entry), key=_newest_first)
            beyond = len(self._entries) < self.total if self.counted else self._more
            self.total += 1
            if row == len(self._entries) and beyond:
                continue
            self.beginInsertRows(QModelIndex(), row, row)
            self._entries.insert(row, entry)
            self.endInsertRows()
            self._rows[entry.id] = -1  # known now; the real rows are indexed once below
            inserted = True
        if inserted:
            self._reindex()

    def _trim(self) -> None:
        """Keep no more rows than were paged in (plus a page): a rebuild that finds 100,000
        images must not make the model hold them all; the rest load as the view scrolls."""
        keep = max(self._window, PAGE_SIZE)
        if len(self._entries) > keep + PAGE_SIZE:
            self.beginRemoveRows(QModelIndex(), keep, len(self._entries) - 1)
            del self._entries[keep:]
            self.endRemoveRows()
            self._reindex()
            self._more = True

    @Slot(int)
    def _on_thumbnail(self, entry_id: int) -> None:
        row = self._rows.get(entry_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
