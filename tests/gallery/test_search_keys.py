"""The full-text index's key (``fts_key``) is unique per entry past a million ids: version 3's
key was shared by two entries of one millisecond whose ids were 2**20 apart, and a search for
the words of one found the other too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.schema import MIGRATIONS, SCHEMA_VERSION, connect, transaction
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths

WHEN = 1_700_000_000.0  # whole seconds, as imported metadata often has
TWIN = 7 + 2**20


def index_at(path: Path, version: int) -> sqlite3.Connection:
    connection = connect(path)
    with transaction(connection):
        for step in range(1, version + 1):
            for statement in MIGRATIONS[step]:
                connection.execute(statement)
        connection.execute(f"PRAGMA user_version = {version:d}")
    return connection


def add_rows(connection: sqlite3.Connection) -> None:
    with transaction(connection):
        for entry_id, created, prompt in (
            (7, WHEN, "a red castle"),
            (TWIN, WHEN, "a blue boat"),
            (8, WHEN + 1, "a red boat"),
        ):
            connection.execute(
                "INSERT INTO entries (id, file_name, created, origin, prompt, width, height) "
                "VALUES (?, ?, ?, 'generated', ?, 64, 64)",
                (entry_id, f"2023-11-14/{entry_id}.png", created, prompt),
            )


def found(store: GalleryStore, text: str) -> list[int]:
    return [entry.id for entry in store.search(GalleryQuery(text=text))]


@pytest.mark.parametrize("migrated", [True, False], ids=["from version 3", "new index"])
def test_entries_of_one_second_a_million_ids_apart_are_found_apart(
    data_dir: Path, migrated: bool
) -> None:
    paths = resolve_paths().ensure()
    connection = index_at(paths.database_path, 3 if migrated else SCHEMA_VERSION)
    add_rows(connection)
    if migrated:  # the old key: one for both, and "castle" found the boat too
        keys = connection.execute("SELECT DISTINCT fts_key FROM entries WHERE id IN (7, ?)",
                                  (TWIN,)).fetchall()
        assert len(keys) == 1
    connection.close()
    with GalleryStore(paths, reconcile=False) as store:
        assert found(store, "castle") == [7]
        assert found(store, "boat") == [8, TWIN]  # newest first
        assert found(store, "bl") == [TWIN]
        assert store.count(GalleryQuery(text="boat")) == 2
        with transaction(store._connection) as raw:  # noqa: SLF001 — a row goes, its words too
            raw.execute("DELETE FROM entries WHERE id = ?", (TWIN,))
        assert found(store, "castle") == [7]
        assert found(store, "boat") == [8]
        problem = store._connection.execute(  # noqa: SLF001
            "INSERT INTO entries_fts (entries_fts, rank) VALUES ('integrity-check', 1)"
        )
        assert problem.fetchall() == []  # the full-text index agrees with the rows
