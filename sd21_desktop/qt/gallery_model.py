"""The gallery list model: entries of the current query, newest first, fetched page by page
from the gallery thread, with thumbnails from :class:`ThumbnailCache`.

Once the query's count is known the model has that many rows; a row not fetched yet is None
(a placeholder is shown and its page is asked for when the view paints it). So scrolling never
inserts rows: :class:`QListView` lays out its items once per query instead of again for every
page (which at 100,000 rows cost a tenth of a second of the GUI thread a page, and its batched
relayout threw the scroll position back to the first rows). Until the count arrives pages are
appended as the view asks for more (``fetchMore``).

Of the rows fetched only about :data:`KEEP_FULL` whole entries near where the view last looked
are kept; rows farther away shrink to a stub (id, time, flags) and are fetched again if the view
comes back, so memory stays bounded at 100,000 rows and more. What the background reconcile
finds is merged in place (an entry whose place lies between rows not fetched yet becomes one
more such row), so paging by offset stays right and the view keeps its scroll position.
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


Row = GalleryEntry | _Stub | None
"""A whole entry, a stub, or None: a row of the query not fetched yet."""


def _newest_first(entry: GalleryEntry | _Stub) -> tuple[float, int]:
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
        """How many rows hold a whole entry (not a stub, not None)."""
        self._requested: set[int] = set()
        """Offsets of the pages asked for and not answered yet (this token)."""
        self._rows: dict[int, int] = {}
        self.counted = True
        """False while the rows are only the pages loaded so far (the count is on its way)."""
        self._more = False
        self._stale = False
        self._token = 0
        self._first = True
        """The first page of this token is still to come (it replaces every row)."""
        self._appending: int | None = None
        """The offset of the page ``fetchMore`` asked for, until it comes."""
        self.on_request: Any = None
        """Called (on this thread) with the token of each page asked for, before the request
        goes out: the service's deferred count of an older query stops, and one of this query
        waits until the pages asked for are served."""
        self._placeholder = QPixmap(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        self._placeholder.fill(QColor("#3a3a3a"))
        thumbnails.thumbnail_ready.connect(self._on_thumbnail)

    @property
    def total(self) -> int:
        """The query's count once known (``counted``); before, the rows loaded so far."""
        return len(self._entries)

    # query -----------------------------------------------------------------------------------
    def set_query(self, query: GalleryQuery) -> None:
        """Show another query; the rows arrive asynchronously (``loaded``)."""
        self.query = query
        self.refresh()

    def refresh(self) -> None:
        self._token += 1
        self._requested = {0}
        self._first, self._appending = True, 0
        self._ask(0)

    def _ask(self, offset: int) -> None:
        if self.on_request is not None:
            self.on_request(self._token)
        self.page_requested.emit(self._token, self.query, offset, PAGE_SIZE)

    @Slot(int, list, int, int)
    def on_page_loaded(
        self, token: int, entries: list[GalleryEntry], total: int, offset: int
    ) -> None:
        """A page (``total`` -1 while the count is on its way). An empty page also answers a
        request that failed: its rows stay to be fetched when next painted."""
        if token != self._token:
            return  # an answer to an older query
        self._requested.discard(offset)
        appended = offset == self._appending
        if appended:
            self._appending = None
        if self._first and offset == 0:
            self._first = False
            self._reset(entries, total)
        elif appended and not self.counted and offset >= len(self._entries):
            self._append(entries)
        else:
            self._fill(offset, entries)
        self._compact(offset)
        self.loaded.emit()

    def _reset(self, entries: list[GalleryEntry], total: int) -> None:
        self.beginResetModel()
        self.counted = total >= 0
        self._entries = [*entries, *[None] * max(0, total - len(entries))]
        self._more = not self.counted and len(entries) >= PAGE_SIZE
        self._full = len(entries)
        self._reindex()
        self.endResetModel()

    def _append(self, entries: list[GalleryEntry]) -> None:
        self._more = len(entries) >= PAGE_SIZE
        fresh = [entry for entry in entries if entry.id not in self._rows]
        if fresh:
            start = len(self._entries)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            self._entries.extend(fresh)
            self._rows.update((entry.id, row) for row, entry in enumerate(fresh, start=start))
            self._full += len(fresh)
            self.endInsertRows()

    def _fill(self, offset: int, entries: list[GalleryEntry]) -> None:
        """Whole entries into their rows (not fetched yet, or stubs of the same entry). An
        entry the model already has in another row means the rows moved meanwhile: that row
        is left to be asked for again."""
        changed = []
        for row, entry in enumerate(entries[: max(0, len(self._entries) - offset)], offset):
            current = self._entries[row]
            known = self._rows.get(entry.id)
            if current is None if known is None else (current is not None and known == row):
                self._full += not isinstance(current, GalleryEntry)
                self._entries[row] = entry
                self._rows[entry.id] = row
                changed.append(row)
        if changed:
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]))

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
        """The count: as many rows as it says (the ones not fetched yet are None)."""
        if token != self._token:
            return
        self.counted, self._more = True, False
        rows = len(self._entries)
        if total > rows:
            self.beginInsertRows(QModelIndex(), rows, total - 1)
            self._entries.extend([None] * (total - rows))
            self.endInsertRows()
        else:  # rows went away meanwhile: drop trailing rows not fetched yet
            self._remove_gap(rows, min(rows - total, self._trailing_gap()))
        self.loaded.emit()

    def _reindex(self) -> None:
        self._rows = {entry.id: row for row, entry in enumerate(self._entries) if entry is not None}

    # lazy paging -----------------------------------------------------------------------------
    def canFetchMore(self, parent: AnyIndex = QModelIndex()) -> bool:  # noqa: B008, N802
        if parent.isValid() or self._appending is not None:
            return False
        return not self.counted and self._more

    def fetchMore(self, parent: AnyIndex = QModelIndex()) -> None:  # noqa: B008, N802
        if self.canFetchMore(parent):
            self._appending = len(self._entries)
            self._requested.add(self._appending)
            self._ask(self._appending)

    # model -----------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._entries)

    def entry(self, row: int) -> GalleryEntry | None:
        """The entry of ``row``; None past the end or while a far row is fetched again."""
        found = self._entries[row] if 0 <= row < len(self._entries) else None
        return found if isinstance(found, GalleryEntry) else None

    def full_entries(self) -> int:
        """How many rows hold a whole entry (what memory the model takes grows with)."""
        return self._full

    def row_of(self, entry_id: int) -> int | None:
        return self._rows.get(entry_id)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        if not isinstance(entry, GalleryEntry):
            self._request(index.row())
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

    def _request(self, row: int) -> None:
        """Ask for the page of a row not fetched yet (or shrunk to a stub), once."""
        offset = row - row % PAGE_SIZE
        if offset not in self._requested:
            self._requested.add(offset)
            self._ask(offset)

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
        fresh.sort(key=_newest_first)
        self.beginInsertRows(QModelIndex(), 0, len(fresh) - 1)
        self._entries[0:0] = fresh
        self._full += len(fresh)
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
                self._full -= isinstance(self._entries.pop(row), GalleryEntry)
                self._reindex()
                self.endRemoveRows()
            else:
                self._full += not isinstance(self._entries[row], GalleryEntry)
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
        change in place. What this model cannot place exactly (a query it cannot check itself,
        rows gone from among several stretches not fetched yet) is run again at the end."""
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
        rows = sorted((self._rows[i] for i in gone if i in self._rows), reverse=True)
        self._remove_rows(rows)
        self._remove_unseen(counted_out - len(rows))
        incoming = [entry for entry in added + changed if self._shows(entry)]
        self._insert_sorted(sorted(incoming, key=_newest_first))
        self.loaded.emit()

    def on_reconcile_finished(self) -> None:
        if self._stale:
            self._stale = False
            self.refresh()

    def _remove_rows(self, rows: list[int]) -> None:
        """Remove these rows (highest first), then index the rest once."""
        for row in rows:
            self.beginRemoveRows(QModelIndex(), row, row)
            self._full -= isinstance(self._entries.pop(row), GalleryEntry)
            self.endRemoveRows()
        if rows:
            self._reindex()

    def _gaps(self) -> list[tuple[int, int]]:
        """The stretches of rows not fetched yet: (first row, row after the last)."""
        gaps: list[tuple[int, int]] = []
        for row, entry in enumerate(self._entries):
            if entry is None:
                if gaps and gaps[-1][1] == row:
                    gaps[-1] = (gaps[-1][0], row + 1)
                else:
                    gaps.append((row, row + 1))
        return gaps

    def _trailing_gap(self) -> int:
        count = 0
        while count < len(self._entries) and self._entries[-1 - count] is None:
            count += 1
        return count

    def _remove_gap(self, end: int, count: int) -> None:
        """Remove ``count`` rows not fetched yet that end at row ``end``."""
        if count > 0:
            self.beginRemoveRows(QModelIndex(), end - count, end - 1)
            del self._entries[end - count : end]
            self.endRemoveRows()
            self._reindex()

    def _remove_unseen(self, count: int) -> None:
        """``count`` rows of the query went away that this model has not fetched: with one
        stretch of such rows they were there; with several, where is unknown (run again)."""
        if count <= 0 or not self.counted:
            return  # not counted yet: they were beyond the rows loaded, and the count follows
        gaps = self._gaps()
        if len(gaps) == 1 and gaps[0][1] - gaps[0][0] >= count:
            self._remove_gap(gaps[0][1], count)
        elif gaps:
            self._stale = True

    def _insert_sorted(self, entries: list[GalleryEntry]) -> None:
        """Insert each (sorted newest first) at its place among the rows fetched: a whole
        entry between two neighbouring rows, one more row not fetched yet inside a stretch of
        them; one past the loaded rows while the count is on its way comes with its page."""
        known = [row for row, entry in enumerate(self._entries) if entry is not None]
        keys = [_newest_first(self._entries[row]) for row in known]  # type: ignore[arg-type]
        done = same = 0
        last = -1
        for entry in entries:
            if entry.id in self._rows:
                continue
            i = bisect.bisect_left(keys, _newest_first(entry))
            same = same + 1 if i == last else 0
            last = i
            # Below the newer neighbour and the ones inserted there already (each shifted the
            # rows below it by one).
            after = known[i - 1] + done + 1 if i > 0 else same
            before = known[i] + done if i < len(known) else len(self._entries)
            if before == len(self._entries) and after == before and not self.counted:
                continue
            self.beginInsertRows(QModelIndex(), after, after)
            self._entries.insert(after, entry if after == before else None)
            self.endInsertRows()
            self._full += after == before
            self._rows[entry.id] = -1  # known now; the real rows are indexed once below
            done += 1
        if done:
            self._reindex()

    @Slot(int)
    def _on_thumbnail(self, entry_id: int) -> None:
        row = self._rows.get(entry_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
