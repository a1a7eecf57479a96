"""Bringing the index in line with the files: the PNGs are the truth, the index follows.

Run on every open. It compares the set of file names in the gallery and trash folders with the
index (one directory listing and one column read: cheap with 10,000 entries) and only reads the
images that differ. A rebuild is the same operation on an empty index.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sd21_desktop.gallery.layout import IMPORTED_FOLDER, GalleryLayout
from sd21_desktop.gallery.reading import NotAnImageError, read_facts
from sd21_desktop.gallery.rows import insert_new, row_for
from sd21_desktop.gallery.schema import transaction

BATCH = 500
"""Rows per transaction: a long rebuild keeps its progress and never holds the lock for long."""

Progress = Callable[[int, int], None]


@dataclass
class SyncReport:
    added: int = 0
    restored: int = 0
    trashed: int = 0
    removed: int = 0
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


def synchronise(
    connection: sqlite3.Connection,
    layout: GalleryLayout,
    on_progress: Progress | None = None,
) -> SyncReport:
    report = SyncReport()
    now = time.time()
    live, trashed = layout.scan()
    indexed: dict[str, bool] = {
        name: bool(deleted)
        for name, deleted in connection.execute(
            "SELECT file_name, deleted_at IS NOT NULL FROM entries"
        )
    }
    # A file in both folders (copied by hand) counts as live.
    new = sorted((name, False) for name in live - indexed.keys())
    new += sorted((name, True) for name in trashed - live - indexed.keys())
    to_live = [name for name, deleted in indexed.items() if deleted and name in live]
    to_trash = [
        name for name, deleted in indexed.items()
        if not deleted and name not in live and name in trashed
    ]
    missing = [name for name in indexed if name not in live and name not in trashed]

    # Images are read outside the write transaction: other processes keep saving meanwhile.
    for start in range(0, len(new), BATCH):
        rows = _read_rows(layout, new[start : start + BATCH], report, now)
        with transaction(connection):
            report.added += insert_new(connection, rows)
        if on_progress is not None:
            on_progress(min(start + BATCH, len(new)), len(new))
    if to_live or to_trash or missing:
        with transaction(connection):
            _follow_files(connection, layout, to_live, to_trash, missing, now, report)
    return report


def _follow_files(
    connection: sqlite3.Connection,
    layout: GalleryLayout,
    to_live: list[str],
    to_trash: list[str],
    missing: list[str],
    now: float,
    report: SyncReport,
) -> None:
    """Rows follow their files. Each case is checked again under the write lock: a delete or
    restore of another process may have been mid-rename while we listed the two folders."""
    for name in to_live:
        if os.path.lexists(layout.live_path(name)):
            connection.execute("UPDATE entries SET deleted_at = NULL WHERE file_name = ?", (name,))
            report.restored += 1
    for name in to_trash:
        if not os.path.lexists(layout.live_path(name)) and os.path.lexists(
            layout.trash_path(name)
        ):
            connection.execute(
                "UPDATE entries SET deleted_at = ? WHERE file_name = ?", (now, name)
            )
            report.trashed += 1
    for name in missing:
        if os.path.lexists(layout.live_path(name)) or os.path.lexists(layout.trash_path(name)):
            continue
        connection.execute("DELETE FROM entries WHERE file_name = ?", (name,))
        report.removed += 1
