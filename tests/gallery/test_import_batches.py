"""Imports commit their rows in batches (one commit per IMPORT_BATCH files, a savepoint per
file): a refused row costs its file only, a failed commit takes the batch's copies away and
reports each, and nothing leaves a copy without its row."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sd21_desktop.gallery import store as store_module
from sd21_desktop.gallery.store import GalleryStore
from tests.gallery.test_store_support import image

REPO_ROOT = Path(__file__).resolve().parents[2]


def originals(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    paths = [folder / f"pic-{number:02d}.png" for number in range(count)]
    for number, path in enumerate(paths):
        image(number).save(path)
    return paths


def copies(store: GalleryStore) -> list[Path]:
    return sorted((store.layout.gallery_dir / "imported").rglob("*.png"))


def test_rows_are_committed_once_per_batch(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "IMPORT_BATCH", 8)
    originals(tmp_path / "in", 20)
    with GalleryStore.open() as store:
        commits: list[str] = []
        store._connection.set_trace_callback(
            lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
        )
        report = store.import_files([tmp_path / "in"])
        store._connection.set_trace_callback(None)
        assert len(report.imported) == 20
        assert len(commits) == 3  # 8 + 8 + 4, not 20
        assert store.count() == 20
        assert len(copies(store)) == 20


def test_the_same_image_twice_in_one_batch_is_imported_once(
    tmp_path: Path, data_dir: Path
) -> None:
    first, _ = originals(tmp_path / "in", 2)
    (tmp_path / "in" / "again.png").write_bytes(first.read_bytes())
    with GalleryStore.open() as store:
        report = store.import_files([tmp_path / "in"])
        assert len(report.imported) == 2
        assert [problem.path.name for problem in report.skipped] == ["pic-00.png"]
        assert "already in the gallery" in report.skipped[0].message


@pytest.fixture
def given(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Ten images to import, in batches of four."""
    monkeypatch.setattr(store_module, "IMPORT_BATCH", 4)
    return originals(tmp_path / "in", 10)


def test_a_failed_commit_takes_the_batch_copies_away(
    given: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store_module.transaction
    batches = [0]

    def failing_second_batch(
        connection: sqlite3.Connection,
    ) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        batches[0] += 1
        if batches[0] != 2:
            return real(connection)
        return _commit_fails(connection)

    monkeypatch.setattr(store_module, "transaction", failing_second_batch)
    with GalleryStore.open() as store:
        report = store.import_files([given[0].parent])
        assert len(report.imported) == 6
        assert sorted(problem.path for problem in report.errors) == given[4:8]
        assert all("disk I/O error" in problem.message for problem in report.errors)
        assert store.count() == 6
        assert len(copies(store)) == 6  # no copy without its row
    assert all(path.exists() for path in given)  # the originals are untouched


@contextlib.contextmanager
def _commit_fails(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A transaction whose COMMIT fails (a disk error at the end of the batch)."""
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    connection.execute("ROLLBACK")
    raise sqlite3.OperationalError("disk I/O error")


def test_a_batch_sqlite_gave_up_is_reported_and_the_rest_import(
    given: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Disk full: SQLite rolls the whole transaction back by itself."""
    real_insert = store_module.insert_written

    def insert_written(connection: sqlite3.Connection, row: tuple[object, ...]) -> int:
        if str(row[0]).endswith("pic-05.png"):
            connection.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return real_insert(connection, row)

    monkeypatch.setattr(store_module, "insert_written", insert_written)
    with GalleryStore.open() as store:
        report = store.import_files([given[0].parent])
        failed = sorted(problem.path for problem in report.errors)
        assert failed == given[4:6]  # pic-05 itself and pic-04, rolled back with it
        assert len(report.imported) == 8
        assert store.count() == 8
        assert {entry.path for entry in report.imported} == set(copies(store))


def test_an_error_out_of_a_batch_leaves_no_copy_without_its_row(
    given: list[Path],
) -> None:

    def progress(done: int, total: int) -> None:
        if done == 6:
            raise KeyboardInterrupt

    with GalleryStore.open() as store:
        with pytest.raises(KeyboardInterrupt):
            store.import_files([given[0].parent], on_progress=progress)
        assert store.count() == 4  # the first batch, committed
        assert len(copies(store)) == 4


# A child that imports ``argv[2]`` into ``argv[1]`` and dies (os._exit, no clean-up) in the
# middle of its second batch: two copies written, their rows not committed.
CHILD = r"""
import os, sys
from sd21_desktop.gallery import store as store_module
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
store_module.IMPORT_BATCH = 4
def progress(done, total):
    if done == 6:
        os._exit(9)
GalleryStore(resolve_paths(sys.argv[1])).import_files([sys.argv[2]], on_progress=progress)
"""


def test_copies_of_an_import_killed_mid_batch_are_indexed_at_the_next_open(
    tmp_path: Path, data_dir: Path
) -> None:
    given = originals(tmp_path / "in", 10)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(data_dir), str(tmp_path / "in")],
        capture_output=True, env=environment, cwd=REPO_ROOT, timeout=120, check=False,
    )
    assert child.returncode == 9, child.stderr.decode()[-2000:]
    with GalleryStore.open() as store:
        entries = store.search(limit=100)
        assert len(entries) == 6  # the first batch, and the two copies of the second
        assert {entry.path for entry in entries} == set(copies(store))
        assert {entry.origin for entry in entries} == {"imported"}
    assert all(path.exists() for path in given)
