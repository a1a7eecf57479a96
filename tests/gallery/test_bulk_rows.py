"""Bulk writes of the rebuild: rows reach the full-text index in one statement per batch (the
insert trigger set aside inside the transaction and made again), a saved request's own JSON text
is kept when it is already the index's; an interrupted rebuild leaves a usable gallery."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sd21_desktop.engine.control_units import ControlUnit
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery import relayout
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.layout import day_folder
from sd21_desktop.gallery.metadata import METADATA_KEY, ImageRecord, encode_png
from sd21_desktop.gallery.reading import facts_from_record, read_facts
from sd21_desktop.gallery.relayout import note_folder
from sd21_desktop.gallery.rows import insert_new, insert_written, row_for
from sd21_desktop.gallery.schema import MIGRATIONS, connect, open_index, transaction
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from tests.gallery.test_store_scale import write_png
from tests.gallery.test_store_support import image, request

REPO_ROOT = Path(__file__).resolve().parents[2]
HASH = "a" * 64


def rows_of(prompts: list[str], start: int = 0) -> list[tuple[Any, ...]]:
    rows = []
    for number, prompt in enumerate(prompts, start=start):
        record = ImageRecord(request(prompt, seed=number), number, 0, {})
        facts = facts_from_record(record, 64, 64)
        name = f"2024-05-17/n-{number}.png"
        rows.append(row_for(name, facts, 1715900000.0 + number, "generated"))
    return rows


def fts_problem(connection: sqlite3.Connection) -> str | None:
    """FTS5's own check of the index against the ``entries`` rows (rank 1: content too)."""
    try:
        connection.execute(
            "INSERT INTO entries_fts (entries_fts, rank) VALUES ('integrity-check', 1)"
        )
    except sqlite3.DatabaseError as error:
        return str(error)
    return None


def trigger_sql(connection: sqlite3.Connection) -> str | None:
    found = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_fts_insert'"
    ).fetchone()
    return None if found is None else str(found[0])


def matches(connection: sqlite3.Connection, word: str) -> int:
    return int(connection.execute(
        "SELECT count(*) FROM entries_fts WHERE entries_fts MATCH ?", (word,)
    ).fetchone()[0])


def test_a_batch_is_searchable_and_the_trigger_is_back(tmp_path: Path) -> None:
    connection = open_index(tmp_path / "index.db").connection
    before = trigger_sql(connection)
    with transaction(connection):
        added = insert_new(connection, rows_of([f"lantern w{n}" for n in range(40)]))
    assert added == list(range(1, 41))
    assert trigger_sql(connection) == before is not None
    assert fts_problem(connection) is None
    assert matches(connection, "lantern") == 40
    assert matches(connection, "w17") == 1
    # A later single save still goes through the trigger.
    with transaction(connection):
        insert_written(connection, rows_of(["dragon"], start=99)[0])
    assert matches(connection, "dragon") == 1
    assert fts_problem(connection) is None


def test_rows_already_indexed_are_skipped_and_not_indexed_twice(tmp_path: Path) -> None:
    connection = open_index(tmp_path / "index.db").connection
    with transaction(connection):
        insert_new(connection, rows_of(["castle one", "castle two"]))
    again = rows_of(["castle one", "castle two", "castle three"])
    with transaction(connection):
        added = insert_new(connection, again)
    assert len(added) == 1  # only the new file
    assert connection.execute(
        "SELECT prompt FROM entries WHERE id = ?", (added[0],)
    ).fetchone() == ("castle three",)
    assert matches(connection, "castle") == 3
    assert fts_problem(connection) is None


def test_a_failed_batch_rolls_back_rows_and_keeps_the_trigger(tmp_path: Path) -> None:
    connection = open_index(tmp_path / "index.db").connection
    before = trigger_sql(connection)
    bad = rows_of(["fine", "broken"])
    bad[1] = (*bad[1][:2], "not an origin", *bad[1][3:])  # fails the CHECK constraint
    with pytest.raises(sqlite3.IntegrityError), transaction(connection):
        insert_new(connection, bad)
    assert connection.execute("SELECT count(*) FROM entries").fetchone() == (0,)
    assert trigger_sql(connection) == before
    assert fts_problem(connection) is None


def test_a_bulk_insert_needs_a_transaction(tmp_path: Path) -> None:
    connection = open_index(tmp_path / "index.db").connection
    with pytest.raises(RuntimeError, match="transaction"):
        insert_new(connection, rows_of(["loose"]))
    assert trigger_sql(connection) is not None


def test_a_version_1_index_is_keyed_by_id(tmp_path: Path) -> None:
    connection = connect(tmp_path / "index.db")
    with transaction(connection):
        for statement in MIGRATIONS[1]:
            connection.execute(statement)
    with transaction(connection):
        insert_new(connection, rows_of([f"tower {n}" for n in range(5)]))
    assert matches(connection, "tower") == 5
    assert fts_problem(connection) is None
    assert "new.id" in (trigger_sql(connection) or "")


def test_note_folder_records_the_folder_and_its_parents(tmp_path: Path) -> None:
    connection = open_index(tmp_path / "index.db").connection
    with transaction(connection):
        note_folder(connection, "imported/2024-05-17")
        note_folder(connection, "imported/2024-05-18")
    paths = [row[0] for row in connection.execute("SELECT path FROM folders ORDER BY path")]
    assert paths == ["", "imported", "imported/2024-05-17", "imported/2024-05-18"]


REQUESTS = [
    request("plain"),
    request("ünïcödé prompt ✓ 日本", negative_prompt="blurry, «low»", guidance_scale=7.25),
    request("networks", loras=(("detail", HASH),), embeddings=(("style", "b" * 12),)),
    request(
        "hires", hires_upscaler="lanczos", hires_scale=1.5, hires_steps=3, variation_seed=7,
        variation_strength=0.3,
    ),
    request("control", controls=(ControlUnit(model="lllyasviel/sd-controlnet-canny", image=HASH),)),
]


@pytest.mark.parametrize("made", REQUESTS, ids=lambda r: r.prompt[:8])
def test_a_saved_request_keeps_its_own_text_which_is_to_json(made: GenerationRequest) -> None:
    data = encode_png(image(1), ImageRecord(made, made.seed, 0, {}))
    facts = read_facts(Path("x.png"), data)
    assert facts.request_json is not None  # taken from the file, not walked again
    assert facts.request_text() == made.to_json()
    assert GenerationRequest.from_json(facts.request_text() or "") == made


def _resaved(made: GenerationRequest, change: Any) -> bytes:
    """Our PNG whose request dict was changed by ``change`` (an older app's, say)."""
    data = encode_png(image(1), ImageRecord(made, made.seed, 0, {}))
    from io import BytesIO

    from PIL import Image, PngImagePlugin

    with Image.open(BytesIO(data)) as opened:
        payload = json.loads(opened.info[METADATA_KEY])
        change(payload["request"])
        info = PngImagePlugin.PngInfo()
        info.add_text(METADATA_KEY, json.dumps(payload))
        out = BytesIO()
        opened.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(schema_version=3),
        lambda d: d.pop("controls"),
        lambda d: d.pop("schema_version"),
    ],
    ids=["older-version", "field-missing", "no-version"],
)
def test_an_older_request_is_written_out_upgraded(change: Any) -> None:
    made = request("older")
    facts = read_facts(Path("x.png"), _resaved(made, change))
    assert facts.request_json is None
    assert facts.request_text() == made.to_json()


def test_a_rebuild_stores_each_request_as_to_json(data_dir: Path) -> None:
    paths = resolve_paths()
    for number, made in enumerate(REQUESTS):
        record = ImageRecord(made, made.seed, 0, {"created": "2024-05-17T10:00:00+00:00"})
        target = paths.gallery_dir / "2024-05-17" / f"r-{number}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode_png(image(number), record))
    with GalleryStore(paths) as store:
        entries = sorted(store.search(limit=100), key=lambda entry: entry.file_name)
        assert [entry.request_json for entry in entries] == [r.to_json() for r in REQUESTS]


# A child that rebuilds the index of ``argv[1]`` and is killed (os._exit, no clean-up) inside
# its third batch: rows inserted, the trigger set aside, the transaction not committed.
CHILD = r"""
import os, sys
from sd21_desktop.gallery import rows, sync
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
sync.BATCH = 10
real = rows.insert_new
calls = [0]
def dying(connection, batch):
    calls[0] += 1
    if calls[0] == 3:
        with rows.search_rows_deferred(connection):
            connection.executemany(rows._INSERT, batch)
            os._exit(9)
    return real(connection, batch)
sync.insert_new = dying
GalleryStore(resolve_paths(sys.argv[1]))
"""


def test_a_rebuild_killed_inside_a_batch_leaves_a_usable_gallery(data_dir: Path) -> None:
    paths = resolve_paths()
    for number in range(45):
        folder = paths.gallery_dir / f"2021-03-0{1 + number % 3}"
        write_png(folder / f"n-{number}.png", number, f"dragon {number}", 1614816000.0 + number)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir)],
        capture_output=True, env=environment, cwd=REPO_ROOT, timeout=120, check=False,
    )
    assert child.returncode == 9, child.stderr.decode()[-2000:]

    # The batches committed before the kill are there, searchable, and the trigger is whole.
    connection = connect(paths.database_path)
    committed = connection.execute("SELECT count(*) FROM entries").fetchone()[0]
    assert 0 < committed < 45
    assert trigger_sql(connection) is not None
    assert fts_problem(connection) is None
    assert matches(connection, "dragon") == committed
    connection.close()

    with GalleryStore(paths) as store:  # the next open adds the rest
        assert store.count() == 45
        assert store.count(GalleryQuery(text="dragon")) == 45
        store.add_image(image(99), ImageRecord(request("phoenix"), 1, 0, {}))
        assert store.count(GalleryQuery(text="phoenix")) == 1
        assert store.count() == 46
    connection = connect(paths.database_path)
    assert fts_problem(connection) is None
    connection.close()


WHEN = 1715900000.0


def _day_rows(connection: sqlite3.Connection, folder: str, count: int, start: int) -> None:
    for number in range(start, start + count):
        row = rows_of([f"day {number}"], start=number)[0]
        with transaction(connection):
            insert_written(connection, (f"{folder}/d-{number}.png", *row[1:]))


def _save_chosen(
    connection: sqlite3.Connection, chooser: relayout.FolderChooser, numbers: range, imported: bool
) -> list[str]:
    """Save one row per number where ``chooser`` says, as the store does; the folders chosen."""
    chosen = []
    for number in numbers:
        folder = chooser.choose(connection, WHEN, imported)
        _day_rows(connection, folder, 1, number)
        chooser.added(folder)
        chosen.append(folder)
    return chosen


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> sqlite3.Connection:
    """An index, day folders of 50 rows, a recount every 8 additions."""
    monkeypatch.setattr(relayout, "FOLDER_LIMIT", 50)
    monkeypatch.setattr(relayout, "RECOUNT_AFTER", 8)
    return open_index(tmp_path / "index.db").connection


def test_the_folder_chooser_fills_parts_in_order_counting_rarely(
    small_parts: sqlite3.Connection,
) -> None:
    counts: list[str] = []
    small_parts.set_trace_callback(
        lambda sql: counts.append(sql) if "count(*) FROM entries WHERE folder" in sql else None
    )
    chosen = _save_chosen(small_parts, relayout.FolderChooser(), range(120), imported=True)
    first = day_folder(WHEN, True)
    assert chosen == [first] * 50 + [f"{first}-2"] * 50 + [f"{first}-3"] * 20
    # Exact counts: a new chooser (another process) finds the same part with room.
    assert relayout.FolderChooser().choose(small_parts, WHEN, True) == f"{first}-3"
    # A count per 8 additions and one to call a part full, not one (or more) per save.
    assert len(counts) <= 120 // 8 + 2 * 3 + 2


def test_rows_another_process_added_are_seen_at_the_next_count(
    small_parts: sqlite3.Connection,
) -> None:
    chooser, first = relayout.FolderChooser(), day_folder(WHEN, False)
    assert chooser.choose(small_parts, WHEN, imported=False) == first  # counted: empty
    _day_rows(small_parts, first, 49, 0)  # another process nearly fills it
    chosen = _save_chosen(small_parts, chooser, range(49, 70), imported=False)
    # It may pass the limit by what it had not counted yet (at most RECOUNT_AFTER), no more.
    (rows,) = small_parts.execute(
        "SELECT count(*) FROM entries WHERE folder = ?", (first,)
    ).fetchone()
    assert 50 <= rows <= 50 + 8
    assert chosen[-1] == f"{first}-2"


def test_freed_pages_are_not_zeroed_by_a_separate_write(tmp_path: Path) -> None:
    """secure_delete FAST (2): Debian's SQLite zeroes every page full-text merges free."""
    connection = connect(tmp_path / "index.db")
    assert connection.execute("PRAGMA secure_delete").fetchone() == (2,)
