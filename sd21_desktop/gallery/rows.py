"""Writing one entry's row: the columns an image's facts fill in."""

from __future__ import annotations

import json
import sqlite3
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
        facts.request.to_json() if facts.request is not None else None,
        json.dumps(runtime, ensure_ascii=False, default=str),
        json.dumps(facts.details, ensure_ascii=False, default=str),
        deleted_at,
        sha256,
    )


def insert_new(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert rows for files not yet indexed; a file indexed meanwhile (by another process) is
    left as it is. Returns the ids of the rows added."""
    added = []
    for row in rows:
        found = connection.execute(
            f"{_INSERT} ON CONFLICT (file_name) DO NOTHING RETURNING id", row
        ).fetchone()
        if found is not None:
            added.append(int(found[0]))
    return added


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
