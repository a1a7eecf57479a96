"""The SQLite index of the gallery: its tables, its migrations, and opening it safely.

The index is only a cache of what the PNG files say, so opening it never fails for a damaged
file: a file SQLite cannot read, or one whose ``PRAGMA quick_check`` fails, is moved aside and a
fresh, empty index is created (the store then refills it from the images).

``PRAGMA user_version`` holds the schema version. Each migration runs in one ``BEGIN IMMEDIATE``
transaction together with the version bump, so an interrupted migration leaves the old version
whole, and two processes opening the same old index never migrate it twice.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sd21_desktop.errors import UserFacingError

SCHEMA_VERSION = 4
FTS_ID_SPAN = 2**30
"""Ids this far apart in the same second would share a search key (see version 4)."""

def _fts_triggers(key: str) -> tuple[str, ...]:
    """The triggers that keep the external-content FTS5 index in step with ``entries``, whose
    column ``key`` is the index's rowid."""
    return (
        f"""
        CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
            INSERT INTO entries_fts (rowid, prompt, negative_prompt)
            VALUES (new.{key}, new.prompt, new.negative_prompt);
        END
        """,
        f"""
        CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, prompt, negative_prompt)
            VALUES ('delete', old.{key}, old.prompt, old.negative_prompt);
        END
        """,
        f"""
        CREATE TRIGGER entries_fts_update AFTER UPDATE OF prompt, negative_prompt ON entries
        BEGIN
            INSERT INTO entries_fts (entries_fts, rowid, prompt, negative_prompt)
            VALUES ('delete', old.{key}, old.prompt, old.negative_prompt);
            INSERT INTO entries_fts (rowid, prompt, negative_prompt)
            VALUES (new.{key}, new.prompt, new.negative_prompt);
        END
        """,
    )


# Version 1. ``file_name`` is relative to the gallery folder (or to the trash folder once
# ``deleted_at`` is set) with "/" separators, so the data folder can move.
_V1: tuple[str, ...] = (
    """
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        file_name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
        source TEXT,
        has_metadata INTEGER NOT NULL DEFAULT 0,
        prompt TEXT NOT NULL DEFAULT '',
        negative_prompt TEXT NOT NULL DEFAULT '',
        model TEXT,
        mode TEXT,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        seed INTEGER,
        batch_index INTEGER NOT NULL DEFAULT 0,
        request_json TEXT,
        runtime_json TEXT NOT NULL DEFAULT '{}',
        details_json TEXT NOT NULL DEFAULT '{}',
        favourite INTEGER NOT NULL DEFAULT 0,
        deleted_at REAL,
        sha256 TEXT
    )
    """,
    # The gallery view asks "live entries, newest first" on every scroll: one index serves it.
    "CREATE INDEX entries_by_time ON entries (deleted_at, created DESC, id DESC)",
    "CREATE INDEX entries_by_model ON entries (model)",
    "CREATE INDEX entries_by_sha ON entries (sha256)",
    # External-content FTS5: the text lives once, in ``entries``; triggers keep the index in step.
    # ``prefix`` indexes make "as you type" prefix queries as cheap as whole-word ones.
    """
    CREATE VIRTUAL TABLE entries_fts USING fts5(
        prompt, negative_prompt,
        content='entries', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='2 3'
    )
    """,
    *_fts_triggers("id"),
)

_DROP_SEARCH = (
    "DROP TRIGGER entries_fts_insert",
    "DROP TRIGGER entries_fts_delete",
    "DROP TRIGGER entries_fts_update",
    "DROP TABLE entries_fts",
)


def _time_keyed_search(key: str) -> tuple[str, ...]:
    """The statements that (re)make the full-text index with ``fts_key`` = ``key`` as its
    rowid (see the "gallery at scale" step below), once the old one is gone."""
    return (
        f"ALTER TABLE entries ADD COLUMN fts_key INTEGER GENERATED ALWAYS AS ({key}) VIRTUAL",
        "CREATE INDEX entries_by_fts_key ON entries (fts_key, deleted_at)",
        # ``prefix='1 2 3'``: the first letters typed are one index lookup, not a merge of
        # every word that starts with them.
        """
        CREATE VIRTUAL TABLE entries_fts USING fts5(
            prompt, negative_prompt,
            content='entries', content_rowid='fts_key',
            tokenize='unicode61 remove_diacritics 2', prefix='1 2 3'
        )
        """,
        # In key order: FTS5 writes ascending rowids in one go (a descending one flushes a
        # segment).
        """
        INSERT INTO entries_fts (rowid, prompt, negative_prompt)
        SELECT fts_key, prompt, negative_prompt FROM entries ORDER BY fts_key
        """,
        *_fts_triggers("fts_key"),
    )


# The "gallery at scale" step: day folders and a cheap reconcile (see
# :mod:`sd21_desktop.gallery.layout` and :mod:`sd21_desktop.gallery.sync`), and a search index
# that answers in time order (see :mod:`sd21_desktop.gallery.search`).
# ``folder`` is the part of ``file_name`` before its last "/" ('' for a file at the top):
# ``rtrim(name, <name without its slashes>)`` strips everything after the last "/".
# ``fts_key`` orders entries like "newest first" (milliseconds, then the id) and is the rowid of
# the full-text index, so a search walks its matches newest first and stops after one page
# instead of collecting every match. (Version 4 changes the key: see there.)
_SCALE: tuple[str, ...] = (
    """
    ALTER TABLE entries ADD COLUMN folder TEXT GENERATED ALWAYS AS
        (rtrim(rtrim(file_name, replace(file_name, '/', '')), '/')) VIRTUAL
    """,
    # Serves "the rows of one folder" and the per-folder counts of the reconcile.
    "CREATE INDEX entries_by_folder ON entries (folder, deleted_at)",
    # The file move journal: set while a row's file is being moved to ``file_name``.
    "ALTER TABLE entries ADD COLUMN moved_from TEXT",
    "CREATE INDEX entries_moving ON entries (moved_from) WHERE moved_from IS NOT NULL",
    # What the last reconcile saw of each folder (``path`` relative, '' for the top): the
    # folder's modification times in the gallery and the trash, and its row counts then.
    """
    CREATE TABLE folders (
        path TEXT PRIMARY KEY,
        live_mtime_ns INTEGER,
        trash_mtime_ns INTEGER,
        live_rows INTEGER,
        trash_rows INTEGER,
        checked_ns INTEGER
    ) WITHOUT ROWID
    """,
    # Entries of the flat v1 layout still to move into their day folders (done in batches by
    # the background reconcile, so the first page is never kept waiting).
    "CREATE TABLE layout_moves (id INTEGER PRIMARY KEY)",
    "INSERT INTO layout_moves (id) SELECT id FROM entries",
    "INSERT OR IGNORE INTO folders (path) SELECT DISTINCT folder FROM entries",
    # Time order within the trash and within the favourites (each usually a small part).
    """
    CREATE INDEX entries_trash_by_time ON entries (created DESC, id DESC)
    WHERE deleted_at IS NOT NULL
    """,
    """
    CREATE INDEX entries_favourites_by_time ON entries (deleted_at, created DESC, id DESC)
    WHERE favourite = 1
    """,
    # The search index again, keyed by time (clamped to years 1970-2223 so the key fits).
    *_DROP_SEARCH,
    *_time_keyed_search(
        "CAST(min(max(created, 0), 8e9) * 1000 AS INTEGER) * 1048576 + id % 1048576"
    ),
)

# Unsigned 64-bit seeds (ComfyUI's 0 … 2^64 - 1) do not fit SQLite's signed INTEGER, so the
# ``seed`` column now holds seed - 2^63: every seed fits, ``=`` and ``ORDER BY`` still work, and
# :func:`~sd21_desktop.gallery.entries.seed_from_column` adds the offset back. The rows of version
# 1 (all seeds below 2^63) are shifted in place; the literal -2^63 is written as a sum because
# SQLite would read 9223372036854775808 as a REAL. An index serves exact seed lookups and sorting.
_SEEDS_UNSIGNED_64: tuple[str, ...] = (
    "UPDATE entries SET seed = (seed - 9223372036854775807) - 1 WHERE seed IS NOT NULL",
    "CREATE INDEX entries_by_seed ON entries (seed)",
)

# Version 4. Version 3's key (milliseconds and id % 2**20) is shared by two entries of one
# millisecond whose ids are 2**20 apart: possible once more than a million ids were given out
# (imports whose times have whole seconds), and then a search for the words of one finds the
# other too. The key is now whole seconds and id % 2**30 (created clamped as before:
# 8e9 * 2**30 < 2**63): two entries share one only if a billion ids lie between them. Entries of
# one second come in id order in a text search.
_FTS_KEY_SECONDS: tuple[str, ...] = (
    # A model filter (the gallery's model menu) reads that model's entries in time order and
    # stops after a page, instead of sorting all of them (a third of a million at 1,000,000).
    "DROP INDEX entries_by_model",
    "CREATE INDEX entries_by_model ON entries (model, deleted_at, created DESC, id DESC)",
    *_DROP_SEARCH,
    "DROP INDEX entries_by_fts_key",
    "ALTER TABLE entries DROP COLUMN fts_key",
    *_time_keyed_search(f"CAST(min(max(created, 0), 8e9) AS INTEGER) * {FTS_ID_SPAN} "
                        f"+ id % {FTS_ID_SPAN}"),
)

#: Statements that take an index from version ``n - 1`` to ``n``; append, never edit.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: _V1, 2: _SEEDS_UNSIGNED_64, 3: _SCALE, 4: _FTS_KEY_SECONDS
}
#: The tables each version adds (a table missing from an index of that version is damage).
REQUIRED_TABLES: dict[int, tuple[str, ...]] = {
    1: ("entries", "entries_fts"),
    3: ("folders", "layout_moves"),
}


@dataclass(frozen=True)
class OpenedIndex:
    connection: sqlite3.Connection
    created: bool
    """True when the index file is new (absent, empty, or replaced because it was damaged)."""
    problem: str | None = None
    """Why a damaged index was replaced."""
    kept_as: Path | None = None
    """Where the damaged file was moved."""


class NewerIndexError(UserFacingError):
    """The index was written by a newer version of the app; we leave it untouched."""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (we write ``BEGIN`` ourselves), WAL journal.

    ``check_same_thread=False`` because the store hands one connection to whichever thread calls
    it, always under its own lock (see :mod:`sd21_desktop.gallery.store`).
    ``synchronous=NORMAL`` may lose the last commits on power loss, never consistency; the PNG
    files are fsynced, and the next open adds any image whose row was lost.
    ``secure_delete=FAST``: some SQLite builds (Debian's) zero every freed page, and the
    full-text index frees pages at each merge of its segments: a quarter of the pages an import
    commit wrote were zeros. FAST still clears deleted rows within the pages a commit writes
    anyway; it changes nothing of what is durable. ``temp_store=MEMORY``: the statement
    journals of a transaction of many rows (an import's batch, see ``GalleryStore``) are a
    megabyte or two, written to a file in /var/tmp otherwise (thirty thousand writes an import).
    """
    connection = sqlite3.connect(
        path, timeout=10.0, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA secure_delete = FAST")
        connection.execute("PRAGMA temp_store = MEMORY")
        connection.execute("PRAGMA busy_timeout = 10000")
    except BaseException:
        connection.close()
        raise
    return connection


@contextlib.contextmanager
def _undone_on_error(
    connection: sqlite3.Connection, begin: str, undo: tuple[str, ...], end: str
) -> Iterator[sqlite3.Connection]:
    connection.execute(begin)
    try:
        yield connection
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            for statement in undo:
                connection.execute(statement)
        raise
    connection.execute(end)


def transaction(connection: sqlite3.Connection) -> contextlib.AbstractContextManager[Any]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back on any exception.

    IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read.
    """
    return _undone_on_error(connection, "BEGIN IMMEDIATE", ("ROLLBACK",), "COMMIT")


def step(connection: sqlite3.Connection) -> contextlib.AbstractContextManager[Any]:
    """:func:`transaction`, or inside one a ``SAVEPOINT`` (rolled back alone on any exception,
    so one entry of a batch that shares a commit can fail without the others)."""
    if not connection.in_transaction:
        return transaction(connection)
    return _undone_on_error(
        connection, "SAVEPOINT step", ("ROLLBACK TO step", "RELEASE step"), "RELEASE step"
    )


def user_version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the index to :data:`SCHEMA_VERSION`; returns the version it had before."""
    with transaction(connection):
        # Read inside the write transaction: another process may have migrated meanwhile.
        before = user_version(connection)
        if before > SCHEMA_VERSION:
            raise NewerIndexError(
                f"The gallery index was written by a newer SD21 Desktop (schema {before}; this "
                f"version understands {SCHEMA_VERSION}).",
                "Update SD21 Desktop, or use another --data-dir.",
            )
        for version in range(before + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                connection.execute(statement)
            # PRAGMA takes no parameters; ``version`` is our own int.
            connection.execute(f"PRAGMA user_version = {version:d}")
    return before


def integrity_problem(connection: sqlite3.Connection) -> str | None:
    """``PRAGMA quick_check``: reads every page (a second or more at 100,000 entries, so the
    GUI runs it in the background after the first page; see ``GalleryStore``)."""
    rows = connection.execute("PRAGMA quick_check").fetchall()
    if [tuple(row) for row in rows] != [("ok",)]:
        return f"integrity check failed: {rows[0][0]}"
    return None


def health_problem(connection: sqlite3.Connection, full_check: bool = True) -> str | None:
    """What is wrong with an existing index file, or None. Raises sqlite3 errors as they come.
    Without ``full_check`` only the header, the schema and the tables are looked at."""
    version = user_version(connection)
    if version > SCHEMA_VERSION:
        return None  # not damage: :func:`migrate` refuses it with a clear message
    problem = integrity_problem(connection) if full_check else None
    if problem is not None:
        return problem
    if version > 0:
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        required = [
            table
            for since, tables in REQUIRED_TABLES.items()
            if since <= version
            for table in tables
        ]
        missing = [table for table in required if table not in names]
        if missing:
            return f"the table {missing[0]} is missing"
    return None


def companions(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def move_aside(path: Path) -> Path:
    """Keep a damaged index (and its WAL) beside the new one, for a person to inspect."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    counter = 2
    while target.exists():
        target = path.with_name(f"{path.name}.damaged-{stamp}-{counter}")
        counter += 1
    for part, suffix in zip(companions(path), ("", "-wal", "-shm"), strict=True):
        if part.exists():
            os.replace(part, target.with_name(target.name + suffix))
    return target


def open_index(path: Path, full_check: bool = True) -> OpenedIndex:
    """Open (creating, migrating, or replacing a damaged file as needed) the index at ``path``.

    ``full_check`` false leaves out the page-by-page check (:func:`integrity_problem`); the
    caller runs it later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # A WAL without its database would be replayed onto the new, empty file: drop it.
        for part in companions(path)[1:]:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        created = True
    else:
        created = path.stat().st_size == 0
    problem: str | None = None
    kept_as: Path | None = None
    connection: sqlite3.Connection | None = None
    try:
        connection = connect(path)
        problem = health_problem(connection, full_check)
    except sqlite3.DatabaseError as error:
        problem = str(error)
    if problem is not None:
        if connection is not None:
            connection.close()
        kept_as = move_aside(path)
        connection = connect(path)
        created = True
    assert connection is not None
    try:
        before = migrate(connection)
    except BaseException:
        connection.close()
        raise
    return OpenedIndex(connection, created or before == 0, problem, kept_as)
