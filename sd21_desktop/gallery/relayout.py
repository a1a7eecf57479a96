"""Day folders: choosing the folder of a new file, and moving a flat (schema 1) gallery into them.

The move is crash-safe by a journal in the row itself: in one transaction a batch of rows gets
its new ``file_name`` and keeps the old one in ``moved_from``; then the files are renamed; then
``moved_from`` is cleared. A crash between leaves rows with ``moved_from`` set, and
:func:`finish_moves` (run first by every reconcile) completes their renames. The files stay the
truth: a file is only ever renamed, never rewritten, and the reconcile treats a name still in
``moved_from`` as known, so it neither adds it twice nor drops its row.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import PurePosixPath

from sd21_desktop.gallery.layout import FOLDER_LIMIT, GalleryLayout, day_folder, parent_folder
from sd21_desktop.gallery.schema import transaction

MOVE_BATCH = 500


RECOUNT_AFTER = 64
"""Additions to a folder between two counts of its rows (see :class:`FolderChooser`)."""


class FolderChooser:
    """Chooses the day folder of new entries: the first part of their day with room.

    Counting a folder's rows reads up to :data:`FOLDER_LIMIT` index entries, and every full
    part before the one with room was counted again for each save: an import of 10,000 files
    into one day read some 5,000 index entries per file. So a folder is counted once, then
    followed by :meth:`added`, and counted again every :data:`RECOUNT_AFTER` additions and
    before it is called full (a full one stays full). Rows another process adds meanwhile are
    seen at the next count: a folder may pass the limit by that many, which the limit (it keeps
    a listing short) allows.
    """

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, int]] = {}
        """Folder → (rows at the last count, additions since)."""

    def choose(self, connection: sqlite3.Connection, created: float, imported: bool) -> str:
        """The day folder an entry created at ``created`` goes to (the first with room)."""
        part = 1
        while True:
            folder = day_folder(created, imported, part)
            if self._rows_of(connection, folder) < FOLDER_LIMIT:
                return folder
            part += 1

    def added(self, folder: str) -> None:
        """An entry was written to ``folder`` (after :meth:`choose` gave it)."""
        counted, since = self._rows.get(folder, (0, RECOUNT_AFTER))
        self._rows[folder] = (counted, since + 1)

    def _rows_of(self, connection: sqlite3.Connection, folder: str) -> int:
        known = self._rows.get(folder)
        if known is not None:
            counted, since = known
            if counted >= FOLDER_LIMIT:
                return counted
            if since < RECOUNT_AFTER and counted + since < FOLDER_LIMIT:
                return counted + since
        # One range of the folder index: a thousand index entries at most.
        (rows,) = connection.execute(
            "SELECT count(*) FROM entries WHERE folder = ?", (folder,)
        ).fetchone()
        self._rows[folder] = (int(rows), 0)
        return int(rows)


def note_folder(connection: sqlite3.Connection, folder: str) -> None:
    """Make sure the reconcile knows ``folder`` and its parents (inside a transaction)."""
    chain = [folder]
    while chain[-1]:
        chain.append(parent_folder(chain[-1]))
    # One statement for the whole chain: an import runs this once per file.
    marks = ", ".join("(?)" for _ in chain)
    connection.execute(f"INSERT OR IGNORE INTO folders (path) VALUES {marks}", chain)


def _free_name(connection: sqlite3.Connection, layout: GalleryLayout, folder: str, old: str) -> str:
    name = PurePosixPath(old)
    candidate = layout.unique_name(folder, name.stem, name.suffix)
    counter = 2
    while connection.execute(
        "SELECT 1 FROM entries WHERE file_name = ?", (candidate,)
    ).fetchone() is not None:
        candidate = layout.unique_name(folder, f"{name.stem}-{counter}", name.suffix)
        counter += 1
    return candidate


def _rename(layout: GalleryLayout, old: str, new: str) -> None:
    """Move the file of ``old`` to ``new`` in whichever root holds it (both is impossible:
    names are unique across gallery and trash). Done already, or gone: nothing to do."""
    for root in (layout.gallery_dir, layout.trash_dir):
        source, target = root / old, root / new
        if os.path.lexists(source) and not os.path.lexists(target):
            target.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):  # another process moved it meanwhile
                os.replace(source, target)


def finish_moves(connection: sqlite3.Connection, layout: GalleryLayout) -> list[int]:
    """Complete the renames of a move that was interrupted; returns the ids concerned."""
    rows = connection.execute(
        "SELECT id, moved_from, file_name FROM entries WHERE moved_from IS NOT NULL"
    ).fetchall()
    for _, old, new in rows:
        _rename(layout, old, new)
    if rows:
        with transaction(connection):
            connection.executemany(
                "UPDATE entries SET moved_from = NULL WHERE id = ?", [(row[0],) for row in rows]
            )
    return [row[0] for row in rows]


def pending_moves(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT count(*) FROM layout_moves").fetchone()[0])


def move_batch(
    connection: sqlite3.Connection, layout: GalleryLayout, limit: int | None = None
) -> tuple[list[int], bool]:
    """Move up to ``limit`` entries of the flat layout into day folders; returns their ids and
    whether there was anything left to do."""
    folders = FolderChooser()  # exact: the transaction holds the write lock
    with transaction(connection):
        rows = connection.execute(
            "SELECT m.id, e.file_name, e.created, e.origin FROM layout_moves AS m "
            "LEFT JOIN entries AS e ON e.id = m.id ORDER BY m.id LIMIT ?",
            (MOVE_BATCH if limit is None else limit,),
        ).fetchall()
        moved: list[int] = []
        for entry_id, old, created, origin in rows:
            if old is None:
                continue  # the entry was deleted for good meanwhile
            if parent_folder(old) not in ("", "imported"):
                continue  # already in a day folder (an index rebuilt from one): leave it there
            folder = folders.choose(connection, created, origin == "imported")
            new = _free_name(connection, layout, folder, old)
            connection.execute(
                "UPDATE entries SET moved_from = file_name, file_name = ? WHERE id = ?",
                (new, entry_id),
            )
            folders.added(folder)
            note_folder(connection, folder)
            moved.append(entry_id)
        connection.executemany(
            "DELETE FROM layout_moves WHERE id = ?", [(row[0],) for row in rows]
        )
    finish_moves(connection, layout)
    return moved, bool(rows)
