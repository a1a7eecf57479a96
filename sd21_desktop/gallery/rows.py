"""Writing one entry's row: the columns an image's facts fill in."""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from sd21_desktop.gallery.entries import seed_to_column
from sd21_desktop.gallery.reading import ImageFacts

INSERT_COLUMNS = (
    "file_name", "created", "origin", "source", "has_metadata", "prompt", "negative_prompt",
    "model", "mode", "width", "height", "seed", "batch_index", "request_json", "runtime_json",
    "details_json", "deleted_at", "sha256",
)
_PLACEHOLDERS = ", ".join("?" for _ in INSERT_COLUMNS)
_INSERT = f"INSERT INTO entries ({', '.join(INSERT_COLUMNS)}) VALUES ({_PLACEHOLDERS})"
_FTS_TRIGGER = "entries_fts_insert"
_CONTENT_ROWID = re.compile(r"content_rowid\s*=\s*'(\w+)'")


def row_for(
    file_name: str,
    facts: ImageFacts,
    created: float,
    origin: str,
    sha256: str | None = None,
    deleted_at: float | None = None,
) -> tuple[Any, ...]:
    runtime = facts.record.runtime if facts.record is not None else {}
    return (
        file_name,
        created,
        origin,
        facts.source,
        int(facts.has_metadata),
        facts.prompt,
        facts.negative_prompt,
        facts.model,
        facts.mode,
        facts.width,
        facts.height,
        seed_to_column(facts.seed),
        facts.batch_index,
        facts.request_text(),
        json.dumps(runtime, ensure_ascii=False, default=str),
        json.dumps(facts.details, ensure_ascii=False, default=str),
        deleted_at,
        sha256,
    )


def insert_new(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert rows for files not yet indexed, inside a transaction; a file indexed meanwhile (by
    another process) is left as it is. Returns the ids of the rows added, in insertion order."""
    with search_rows_deferred(connection) as last_id:
        connection.executemany(f"{_INSERT} ON CONFLICT (file_name) DO NOTHING", rows)
    return [
        int(entry_id)
        for (entry_id,) in connection.execute(
            "SELECT id FROM entries WHERE id > ? ORDER BY id", (last_id,)
        )
    ]


@contextlib.contextmanager
def search_rows_deferred(connection: sqlite3.Connection) -> Iterator[int]:
    """Rows inserted into ``entries`` in this block reach the full-text index in one statement
    at its end, in key order, instead of one trigger call each: the per-row trigger was two
    thirds of a 10,000-image rebuild's SQLite time. Yields the largest id before the block (the
    rows inserted in it are those above: ids only grow, and the transaction holds the write
    lock).

    The insert trigger is dropped and made again from its own text within the caller's
    transaction, so no committed state lacks it, and a failure rolls both back with the rows.
    """
    if not connection.in_transaction:
        raise RuntimeError("search_rows_deferred needs an open transaction")
    (last_id,) = connection.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
    trigger, key = _search_schema(connection)
    if trigger is None or key is None:  # not an index of ours: the trigger does the work
        yield int(last_id)
        return
    connection.execute(f"DROP TRIGGER {_FTS_TRIGGER}")
    yield int(last_id)
    # ``key`` is a column name read from our own schema (a \w+ match), not outside input.
    connection.execute(
        f"INSERT INTO entries_fts (rowid, prompt, negative_prompt) "
        f"SELECT {key}, prompt, negative_prompt FROM entries WHERE id > ? ORDER BY {key}",
        (last_id,),
    )
    connection.execute(trigger)


def _search_schema(connection: sqlite3.Connection) -> tuple[str | None, str | None]:
    """The insert trigger's text and the full-text index's key column (``id`` in version 1,
    ``fts_key`` since the "gallery at scale" step)."""
    texts = dict(connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE name IN (?, 'entries_fts')", (_FTS_TRIGGER,)
    ).fetchall())
    found = _CONTENT_ROWID.search(texts.get("entries_fts") or "")
    return texts.get(_FTS_TRIGGER), found.group(1) if found else None


def insert_written(connection: sqlite3.Connection, row: tuple[Any, ...]) -> int:
    """Insert the row of a file this process just wrote; returns its id.

    Another process may have indexed the file between our rename and this insert (its open-time
    scan saw it); then that row is kept and only our content hash added.
    """
    found = connection.execute(
        f"{_INSERT} ON CONFLICT (file_name) DO UPDATE SET sha256 = excluded.sha256 RETURNING id",
        row,
    ).fetchone()
    return int(found[0])
