"""Bringing the index in line with the files: the PNGs are the truth, the index follows.

The reconcile runs after the first page is shown (the GUI runs it in the background on the
gallery thread; the CLI before it answers), as a sequence of short steps, each its own
transaction, so it never holds the store's lock for long and a quit at any point loses nothing:
what was committed stays, and the rest is found again next time.

It is cheap when nothing changed: the ``folders`` table remembers, per folder, its modification
times (gallery and trash) and its row counts at the last reconcile. A folder whose times and
counts still match is skipped without being listed, so an unchanged gallery of 100,000 images
in day folders costs a few hundred ``stat`` calls and one grouped count. A time too close to
when it was recorded is not trusted (a change within the same clock tick would not move it).
A changed folder is listed and compared with its rows, and only the images that differ are read.
A rebuild is the same operation on an empty index.

What each difference means:

* a file with no row: saved, then the process died before the row was written (or the index
  was lost) → read the image, add its row;
* a live row whose file is in the trash (or the reverse): a crash between the rename of a delete
  (or restore) and its update → follow the file;
* a row whose file is nowhere: the file was removed outside the app → drop the row.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sd21_desktop.gallery.layout import IMPORTED_FOLDER, GalleryLayout, parent_folder
from sd21_desktop.gallery.reading import NotAnImageError, read_facts
from sd21_desktop.gallery.relayout import finish_moves, move_batch, pending_moves
from sd21_desktop.gallery.rows import insert_new, row_for
from sd21_desktop.gallery.schema import transaction

BATCH = 500
"""Rows per transaction: a long rebuild keeps its progress and never holds the lock for long."""
CLEAN_FOLDERS_PER_STEP = 256
RACY_NS = 2_000_000_000
"""A folder time this close to the moment it was recorded may hide a later change (FAT and
some network file systems keep 1-2 s): such a folder is listed again."""

Progress = Callable[[int, int], None]


@dataclass
class SyncStep:
    """What one step of a reconcile changed (entry ids), for a list model to follow."""

    added: list[int] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)
    """Moved into or out of the trash."""
    moved: list[int] = field(default_factory=list)
    """Moved to another file name (into a day folder): the same entry otherwise."""
    removed: list[tuple[int, bool]] = field(default_factory=list)
    """Dropped (the file is gone): id, and whether the entry was in the trash."""
    reset: bool = False
    """The index was found damaged and replaced: every id shown so far is void."""

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.moved or self.removed or self.reset)

    def extend(self, other: SyncStep) -> None:
        self.reset |= other.reset
        self.added += other.added
        self.changed += other.changed
        self.moved += other.moved
        self.removed += other.removed


@dataclass
class SyncReport:
    added: int = 0
    restored: int = 0
    trashed: int = 0
    removed: int = 0
    moved: int = 0
    """Entries moved from the flat layout into day folders."""
    folders_listed: int = 0
    folders_skipped: int = 0
    entries: int = 0
    """Rows of the index when the reconcile began (for "Checking 100,000 images…")."""
    temporaries_removed: int = 0
    unreadable: list[str] = field(default_factory=list)

    def notices(self, rebuilt: bool) -> list[str]:
        """Lines to show a person; a rebuild's own notice says the additions already."""
        lines: list[str] = []
        if self.added and not rebuilt:
            lines.append(
                f"Added {plural(self.added, 'image')} found in the gallery folder but missing "
                "from its index (saved just before the app stopped)."
            )
        if self.removed:
            lines.append(
                f"Removed {plural(self.removed, 'entry', 'entries')} whose image is no longer "
                "in the gallery folder."
            )
        if self.unreadable:
            shown = ", ".join(self.unreadable[:3]) + ("…" if len(self.unreadable) > 3 else "")
            lines.append(
                f"Left out {plural(len(self.unreadable), 'file')} of the gallery folder that "
                f"could not be read as images: {shown}."
            )
        return lines


def status_line(report: SyncReport) -> str:
    """A quiet line while a reconcile runs: "Checking 100,000 images… 3 new"."""
    if not report.entries and report.moved:
        return f"Moving images into day folders… {report.moved:,} moved"
    news = [
        f"{number:,} {label}"
        for number, label in (
            (report.added, "new"),
            (report.removed, "removed"),
            (report.trashed + report.restored, "in or out of the trash"),
        )
        if number
    ]
    images = "image" if report.entries == 1 else "images"
    return " ".join([f"Checking {report.entries:,} {images}…", ", ".join(news)]).strip()


def plural(number: int, singular: str, many: str | None = None) -> str:
    """``1 image``, ``2 images``."""
    return f"{number} {singular if number == 1 else many or singular + 's'}"


def _origin(file_name: str, has_own_record: bool) -> str:
    if file_name.startswith(f"{IMPORTED_FOLDER}/") or not has_own_record:
        return "imported"
    return "generated"


def _read_rows(
    layout: GalleryLayout,
    names: list[tuple[str, bool]],
    report: SyncReport,
    now: float,
) -> list[tuple[Any, ...]]:
    rows = []
    for name, in_trash in names:
        path = layout.trash_path(name) if in_trash else layout.live_path(name)
        try:
            facts = read_facts(path)
            stat = path.stat()
        except (NotAnImageError, OSError):
            report.unreadable.append(name)
            continue
        # Our PNGs carry their save time; an imported file's copy time is its mtime.
        created = facts.created if facts.created is not None else stat.st_mtime
        rows.append(
            row_for(
                name,
                facts,
                created,
                _origin(name, facts.record is not None),
                deleted_at=now if in_trash else None,
            )
        )
    return rows


@dataclass(frozen=True)
class _Record:
    live_mtime_ns: int | None
    trash_mtime_ns: int | None
    live_rows: int | None
    trash_rows: int | None
    checked_ns: int | None

    def clean(self, mtimes: tuple[int | None, int | None], rows: tuple[int, int]) -> bool:
        """The folder is as the last reconcile left it (times trusted, row counts equal)."""
        if self.checked_ns is None or (self.live_mtime_ns, self.trash_mtime_ns) != mtimes:
            return False
        if any(m is not None and m + RACY_NS > self.checked_ns for m in mtimes):
            return False
        return (self.live_rows, self.trash_rows) == rows


def _mtime_ns(path: os.PathLike[str] | str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return None


class Reconcile:
    """One reconcile of ``layout`` with the index, run step by step by :meth:`steps`."""

    def __init__(self, connection: sqlite3.Connection, layout: GalleryLayout) -> None:
        self.connection = connection
        self.layout = layout
        self.report = SyncReport()
        self.on_progress: Progress | None = None
        self._rows: list[tuple[Any, ...]] = []
        """New rows read and not written yet: the rows of small folders go in together (one
        transaction per folder made a rebuild of 10,000 files into 365 day folders write its
        indexes and full-text segments over and over)."""
        self._records: list[tuple[str, tuple[int | None, int | None], int, set[str]]] = []
        """Folders listed whose record is written with the rows of the next write."""

    def steps(self) -> Iterator[SyncStep]:
        """Each ``next()`` does one short step (one transaction) and says what it changed.
        The caller holds the store's lock around each ``next()``, not across them."""
        yield from self._layout_steps()
        records = {
            path: _Record(*values)
            for path, *values in self.connection.execute("SELECT * FROM folders")
        }
        children: dict[str, list[str]] = {}
        for path in records:
            if path:
                children.setdefault(parent_folder(path), []).append(path)
        rows = self._row_counts()
        self.report.entries = sum(live + trash for live, trash in rows.values())
        queue, seen, clean_streak = [""], set(), 0
        while queue:
            folder = queue.pop()
            if folder in seen:
                continue
            seen.add(folder)
            mtimes = (
                _mtime_ns(self.layout.live_path(folder)),
                _mtime_ns(self.layout.trash_path(folder)),
            )
            record = records.get(folder)
            if record is not None and record.clean(mtimes, rows.get(folder, (0, 0))):
                self.report.folders_skipped += 1
                queue += children.get(folder, [])
                clean_streak += 1
                if clean_streak % CLEAN_FOLDERS_PER_STEP == 0:
                    yield SyncStep()
                continue
            subfolders: set[str] = set()
            yield from self._folder_steps(folder, mtimes, subfolders)
            queue += sorted(subfolders - seen, reverse=True)
        # Folders the index knows (a record, or rows) that are gone from both places: their
        # rows follow.
        for folder in sorted((records.keys() | rows.keys()) - seen):
            yield from self._folder_steps(folder, (None, None), set())
        if self._rows or self._records:
            yield self._write()

    def run(self) -> SyncReport:
        for _ in self.steps():
            pass
        return self.report

    def _row_counts(self) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        for folder, live, trash in self.connection.execute(
            "SELECT folder, sum(deleted_at IS NULL), sum(deleted_at IS NOT NULL) "
            "FROM entries GROUP BY folder"
        ):
            counts[folder] = (live, trash)
        return counts

    def _layout_steps(self) -> Iterator[SyncStep]:
        interrupted = finish_moves(self.connection, self.layout)
        if interrupted:
            yield SyncStep(moved=interrupted)
        if not pending_moves(self.connection):
            return
        while True:
            moved, more = move_batch(self.connection, self.layout)
            if not more:
                return
            self.report.moved += len(moved)
            yield SyncStep(moved=moved)

    def _folder_steps(
        self, folder: str, mtimes: tuple[int | None, int | None], subfolders: set[str]
    ) -> Iterator[SyncStep]:
        """List one folder (gallery and trash) and bring its rows in line, in batches."""
        checked_ns = time.time_ns()
        listing = self.layout.list_folder(folder)
        subfolders |= listing.folders
        self.report.folders_listed += 1
        self.report.temporaries_removed += listing.temporaries_removed
        indexed: dict[str, tuple[int, bool]] = {
            name: (entry_id, bool(deleted))
            for entry_id, name, deleted in self.connection.execute(
                "SELECT id, file_name, deleted_at IS NOT NULL FROM entries WHERE folder = ?",
                (folder,),
            )
        }
        moving = {row[0] for row in self.connection.execute(
            "SELECT moved_from FROM entries WHERE moved_from IS NOT NULL"
        )}
        live, trashed = listing.live, listing.trashed
        known = indexed.keys() | moving
        # A file in both folders (copied by hand) counts as live.
        new = sorted((name, False) for name in live - known)
        new += sorted((name, True) for name in trashed - live - known)
        now = time.time()
        for start in range(0, len(new), BATCH):
            self._rows += _read_rows(self.layout, new[start : start + BATCH], self.report, now)
            if self.on_progress is not None:
                self.on_progress(min(start + BATCH, len(new)), len(new))
            yield self._write() if len(self._rows) >= BATCH else SyncStep()
        yield from self._follow(folder, indexed, live, trashed, now)
        self._records.append((folder, mtimes, checked_ns, listing.folders))

    def _write(self) -> SyncStep:
        """One transaction: the new rows read so far, then the records of the folders listed."""
        # Oldest first: ascending search keys are one write for FTS5 (see schema).
        rows = sorted(self._rows, key=lambda row: row[1])
        with transaction(self.connection):
            added = insert_new(self.connection, rows)
            for record in self._records:
                self._record(*record)
        self._rows, self._records = [], []
        self.report.added += len(added)
        return SyncStep(added=added)

    def _follow(
        self,
        folder: str,
        indexed: dict[str, tuple[int, bool]],
        live: set[str],
        trashed: set[str],
        now: float,
    ) -> Iterator[SyncStep]:
        """Rows follow their files (in batches: a folder of 100,000 may have gone)."""
        to_live = [name for name, (_, deleted) in indexed.items() if deleted and name in live]
        to_trash = [
            name for name, (_, deleted) in indexed.items()
            if not deleted and name not in live and name in trashed
        ]
        missing = [name for name in indexed if name not in live and name not in trashed]
        for start in range(0, max(len(to_live), len(to_trash), len(missing)), BATCH):
            batch = slice(start, start + BATCH)
            with transaction(self.connection):
                changed, removed = _follow_files(
                    self.connection, self.layout, to_live[batch], to_trash[batch],
                    missing[batch], now, self.report,
                )
            yield SyncStep(
                changed=[indexed[name][0] for name in changed],
                removed=[indexed[name] for name in removed],
            )

    def _record(
        self,
        folder: str,
        mtimes: tuple[int | None, int | None],
        checked_ns: int,
        subfolders: set[str],
    ) -> None:
        """Remember what this folder looked like (inside the transaction that wrote its rows);
        a folder gone with its rows is forgotten."""
        (live, trash) = self.connection.execute(
            "SELECT count(*) FILTER (WHERE deleted_at IS NULL), "
            "count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM entries WHERE folder = ?",
            (folder,),
        ).fetchone()
        if mtimes == (None, None) and live + trash == 0 and folder:
            self.connection.execute("DELETE FROM folders WHERE path = ?", (folder,))
            return
        self.connection.execute(
            "INSERT OR REPLACE INTO folders VALUES (?, ?, ?, ?, ?, ?)",
            (folder, *mtimes, live, trash, checked_ns),
        )
        # A sub-folder gets a record now, so that a quit before it is listed cannot hide it
        # below a parent that looks unchanged next time.
        self.connection.executemany(
            "INSERT OR IGNORE INTO folders (path) VALUES (?)", [(sub,) for sub in subfolders]
        )


def synchronise(
    connection: sqlite3.Connection,
    layout: GalleryLayout,
    on_progress: Progress | None = None,
) -> SyncReport:
    """A whole reconcile at once (the CLI, a rebuild the caller waits for)."""
    reconcile = Reconcile(connection, layout)
    reconcile.on_progress = on_progress
    return reconcile.run()


def _follow_files(
    connection: sqlite3.Connection,
    layout: GalleryLayout,
    to_live: list[str],
    to_trash: list[str],
    missing: list[str],
    now: float,
    report: SyncReport,
) -> tuple[list[str], list[str]]:
    """Rows follow their files; returns the names changed and the names removed. Each case is
    checked again under the write lock: a delete or restore of another process may have been
    mid-rename while we listed the two folders."""
    changed: list[str] = []
    removed: list[str] = []
    for name in to_live:
        if os.path.lexists(layout.live_path(name)):
            connection.execute("UPDATE entries SET deleted_at = NULL WHERE file_name = ?", (name,))
            report.restored += 1
            changed.append(name)
    for name in to_trash:
        if not os.path.lexists(layout.live_path(name)) and os.path.lexists(
            layout.trash_path(name)
        ):
            connection.execute(
                "UPDATE entries SET deleted_at = ? WHERE file_name = ?", (now, name)
            )
            report.trashed += 1
            changed.append(name)
    for name in missing:
        if os.path.lexists(layout.live_path(name)) or os.path.lexists(layout.trash_path(name)):
            continue
        # A row whose file another process is moving right now keeps it (see relayout).
        cursor = connection.execute(
            "DELETE FROM entries WHERE file_name = ? AND moved_from IS NULL", (name,)
        )
        if cursor.rowcount:
            report.removed += 1
            removed.append(name)
    return changed, removed
