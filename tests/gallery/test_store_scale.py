"""The gallery at scale: day folders, the migration of a flat gallery, a reconcile that skips
unchanged folders and resumes after a quit, search plans that read one page, bounded counts."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from sd21_desktop.gallery import relayout, sync
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.layout import day_folder
from sd21_desktop.gallery.metadata import ImageRecord, encode_png
from sd21_desktop.gallery.reading import facts_from_record
from sd21_desktop.gallery.rows import insert_new, row_for
from sd21_desktop.gallery.schema import MIGRATIONS, SCHEMA_VERSION, connect, transaction
from sd21_desktop.gallery.search import select_count, select_page
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.gallery.sync import SyncReport, status_line
from sd21_desktop.paths import AppPaths, resolve_paths
from tests.gallery.test_store_support import add, image, request

DAY_FOLDER = re.compile(r"(imported/)?\d{4}-\d{2}-\d{2}(-\d+)?/[^/]+")


def write_png(path: Path, number: int, prompt: str, created: float) -> None:
    record = ImageRecord(request(prompt, seed=number), number, 0, {"created": _iso(created)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(image(number), record))


def _iso(created: float) -> str:
    from sd21_desktop.gallery.entries import iso_time

    return iso_time(created)


def make_flat_gallery(paths: AppPaths, count: int) -> None:
    """A gallery as schema 1 left it: files flat in the gallery (and imported/) folder, a
    favourite, two entries in the trash."""
    paths.ensure()
    trash = paths.data_dir / "trash"
    connection = connect(paths.database_path)
    with transaction(connection):
        for statement in MIGRATIONS[1]:
            connection.execute(statement)
        connection.execute("PRAGMA user_version = 1")
    now = time.time()
    rows = []
    for number in range(count):
        created = now - number * 3600.0  # a few days
        name = f"imported/old-{number}.png" if number % 7 == 3 else f"flat-{number}.png"
        prompt = f"lantern {number}" if number % 2 else f"castle {number}"
        write_png(paths.gallery_dir / name, number, prompt, created)
        record = ImageRecord(request(prompt, seed=number), number, 0, {})
        origin = "imported" if name.startswith("imported/") else "generated"
        rows.append(row_for(name, facts_from_record(record, 64, 64), created, origin))
    with transaction(connection):
        insert_new(connection, rows)
        connection.execute("UPDATE entries SET favourite = 1 WHERE id IN (2, 5)")
        for entry_id in (3, 6):
            (name,) = connection.execute(
                "SELECT file_name FROM entries WHERE id = ?", (entry_id,)
            ).fetchone()
            (trash / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(paths.gallery_dir / name, trash / name)
            connection.execute("UPDATE entries SET deleted_at = ? WHERE id = ?", (now, entry_id))
    connection.close()


def index_state(paths: AppPaths) -> dict[int, tuple[bool, bool, str, str]]:
    """id → (favourite, in trash, prompt, sha256 of its file) for every entry."""
    with GalleryStore(paths, reconcile=False) as store:
        entries = store.search(limit=10_000) + store.search(GalleryQuery(in_trash=True))
    return {
        entry.id: (entry.favourite, entry.deleted, entry.prompt, _sha(entry.path))
        for entry in entries
    }


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def all_files(paths: AppPaths) -> list[str]:
    """The contents (sha256) of every image file in the gallery and the trash."""
    return sorted(
        _sha(path)
        for root in (paths.gallery_dir, paths.data_dir / "trash")
        for path in root.rglob("*.png")
    )


def _old_state(paths: AppPaths) -> dict[int, tuple[bool, bool, str, str]]:
    connection = sqlite3.connect(paths.database_path)
    state = {}
    for entry_id, name, favourite, deleted, prompt in connection.execute(
        "SELECT id, file_name, favourite, deleted_at IS NOT NULL, prompt FROM entries"
    ):
        root = paths.data_dir / "trash" if deleted else paths.gallery_dir
        state[entry_id] = (bool(favourite), bool(deleted), prompt, _sha(root / name))
    connection.close()
    return state


def test_migration_moves_a_flat_gallery_into_day_folders_keeping_everything(
    data_dir: Path,
) -> None:
    paths = resolve_paths()
    make_flat_gallery(paths, 40)
    before, files = _old_state(paths), all_files(paths)
    with GalleryStore(paths) as store:
        assert store.notices == []  # nothing added or removed: only moved
        assert store.count() == 38
        assert store.count(GalleryQuery(in_trash=True)) == 2
        assert store.count(GalleryQuery(text="lant")) == 19  # the search index was rebuilt
        entries = store.search(limit=100) + store.search(GalleryQuery(in_trash=True))
        with sqlite3.connect(paths.database_path) as check:
            assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert index_state(paths) == before  # ids, favourites, trash, prompts, file contents
    assert all_files(paths) == files  # every file still there, byte for byte
    for entry in entries:
        assert DAY_FOLDER.fullmatch(entry.file_name), entry.file_name
        assert entry.file_name.split("/")[-2] == day_folder(entry.created, False).split("/")[-1]
        assert entry.file_name.startswith("imported/") == (entry.origin == "imported")
    assert not list(paths.gallery_dir.glob("*.png"))  # nothing left flat


def test_an_interrupted_migration_finishes_next_time(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_paths()
    make_flat_gallery(paths, 30)
    before, files = _old_state(paths), all_files(paths)
    monkeypatch.setattr(relayout, "MOVE_BATCH", 8)
    renamed = 0
    real_rename = relayout._rename

    def rename_then_die(layout: object, old: str, new: str) -> None:
        nonlocal renamed
        if renamed == 11:  # in the middle of the second batch: rows updated, files half moved
            raise KeyboardInterrupt("the power went out")
        renamed += 1
        real_rename(layout, old, new)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(relayout, "_rename", rename_then_die)
        store = GalleryStore(paths, reconcile=False)
        steps = store.reconcile_steps()
        with pytest.raises(KeyboardInterrupt):
            for _ in steps:
                pass
        store.close()
    with sqlite3.connect(paths.database_path) as check:
        journal = "SELECT count(*) FROM entries WHERE moved_from IS NOT NULL"
        assert check.execute(journal).fetchone()[0]  # the crash left a move half done
    with GalleryStore(paths) as store:
        assert store.notices == []
        assert store.count() + store.count(GalleryQuery(in_trash=True)) == 30
    assert index_state(paths) == before
    assert all_files(paths) == files


def fill_days(store: GalleryStore, count: int) -> None:
    for number in range(count):
        add(store, f"lantern {number}", seed=number)


def age_folders(paths: AppPaths, seconds: float = 30.0) -> None:
    """Folder times a while back: as a later open would find them (not "too fresh")."""
    when = time.time() - seconds
    for root in (paths.gallery_dir, paths.data_dir / "trash"):
        for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
            os.utime(folder, (when, when))


def reconcile(paths: AppPaths) -> SyncReport:
    with GalleryStore(paths, reconcile=False) as store:
        for _ in store.reconcile_steps():
            pass
        assert store.reconcile_report is not None
        return store.reconcile_report


def test_an_unchanged_gallery_is_reconciled_without_listing_a_folder(data_dir: Path) -> None:
    paths = resolve_paths()
    with GalleryStore(paths) as store:
        fill_days(store, 5)
        store.delete(store.search()[0].id)
    age_folders(paths)
    reconcile(paths)  # records the aged times
    report = reconcile(paths)
    assert report.folders_listed == 0
    assert report.folders_skipped >= 3  # the top, imported, today's folder
    assert report.entries == 5

    today = paths.gallery_dir / day_folder(time.time(), False)
    write_png(today / "dropped-in.png", 99, "a dropped file", time.time())
    report = reconcile(paths)
    assert (report.folders_listed, report.added) == (1, 1)  # only the folder that changed


def test_a_row_lost_from_an_unchanged_folder_is_found_by_its_count(data_dir: Path) -> None:
    paths = resolve_paths()
    with GalleryStore(paths) as store:
        fill_days(store, 3)
    age_folders(paths)
    reconcile(paths)
    with sqlite3.connect(paths.database_path) as connection:
        connection.execute("DELETE FROM entries WHERE id = 2")  # the index alone changed
    report = reconcile(paths)
    assert (report.folders_listed, report.added) == (1, 1)


def test_files_added_deleted_and_trashed_while_closed_are_reconciled(data_dir: Path) -> None:
    paths = resolve_paths()
    with GalleryStore(paths) as store:
        fill_days(store, 4)
        entries = store.search()
        store.set_favourite(entries[3].id, True)
    gone, trashed = entries[0], entries[1]
    gone.path.unlink()
    trash_path = paths.data_dir / "trash" / trashed.file_name
    trash_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(trashed.path, trash_path)
    write_png(paths.gallery_dir / "2020-01-02" / "old.png", 50, "an old castle", 1577923200.0)
    write_png(paths.gallery_dir / "top.png", 51, "a castle on top", time.time())
    report = reconcile(paths)
    assert (report.added, report.removed, report.trashed) == (2, 1, 1)
    with GalleryStore(paths, reconcile=False) as store:
        live = {entry.file_name: entry for entry in store.search()}
        assert set(live) == {entries[2].file_name, entries[3].file_name, "2020-01-02/old.png",
                             "top.png"}
        assert live[entries[3].file_name].favourite
        assert [e.id for e in store.search(GalleryQuery(in_trash=True))] == [trashed.id]
        assert store.count(GalleryQuery(text="castle")) == 2


def test_a_reconcile_stopped_by_a_quit_resumes_and_loses_nothing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_paths()
    with GalleryStore(paths) as store:
        fill_days(store, 3)
        store.set_favourite(store.search()[0].id, True)
        kept = {entry.id: entry.favourite for entry in store.search()}
    for number in range(45):
        folder = paths.gallery_dir / ("2021-03-04" if number % 3 else "2021-03-05")
        write_png(folder / f"new-{number}.png", 100 + number, f"dragon {number}", 1614816000.0)
    monkeypatch.setattr(sync, "BATCH", 10)
    store = GalleryStore(paths, reconcile=False)
    steps = store.reconcile_steps()
    for _ in range(3):
        next(steps)
    store.close()  # the app quits in the middle
    assert 0 < reconcile_count(paths) < 48

    report = reconcile(paths)
    assert report.removed == 0
    with GalleryStore(paths, reconcile=False) as store:
        entries = store.search(limit=100)
        assert len(entries) == 48 == len({entry.file_name for entry in entries})
        assert {e.id: e.favourite for e in entries if e.id in kept} == kept
        assert store.count(GalleryQuery(text="dragon")) == 45


def reconcile_count(paths: AppPaths) -> int:
    with sqlite3.connect(paths.database_path) as connection:
        return int(connection.execute("SELECT count(*) FROM entries").fetchone()[0])


def test_a_full_day_continues_in_a_second_folder(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relayout, "FOLDER_LIMIT", 3)
    with GalleryStore.open() as store:
        fill_days(store, 5)
        folders = sorted({entry.file_name.rsplit("/", 1)[0] for entry in store.search()})
    today = day_folder(time.time(), False)
    assert folders == [today, f"{today}-2"]


@pytest.mark.parametrize(
    "query",
    [
        GalleryQuery(),
        GalleryQuery(text="cas"),
        GalleryQuery(text="c"),
        GalleryQuery(text="castle", model="m", width=512, height=512, created_from=1.0),
        GalleryQuery(model="m"),
        GalleryQuery(text="castle", model="m"),
        GalleryQuery(in_trash=True),
        GalleryQuery(favourites_only=True),
        GalleryQuery(text="x", in_trash=True),
    ],
)
def test_search_plans_read_an_index_in_order(data_dir: Path, query: GalleryQuery) -> None:
    """No plan scans the table or sorts all matches: a page costs a page at any size."""
    with GalleryStore.open() as store:
        connection = store._connection  # noqa: SLF001 — the plan is what is under test
        for sql, params in (select_page(query, 0, 100), select_count(query, 1001)):
            rows = connection.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " | ".join(row[3] for row in rows)
            assert "TEMP B-TREE" not in plan, plan
            assert not re.search(r"SCAN (entries|e)\b(?! USING)", plan), plan
            if query.text and query.model is None:
                assert "SCAN f VIRTUAL TABLE" in plan
                assert "entries_by_fts_key" in plan
            elif query.text:  # words and filters: the matches checked along a time index
                assert re.search(r"entries_by_(time|model)", plan), plan
                assert "LIST SUBQUERY" in plan


def test_text_search_lists_newest_first_like_the_gallery(data_dir: Path) -> None:
    with GalleryStore.open() as store:
        for number in range(12):
            add(store, f"castle {number}" if number % 3 else f"lake {number}", seed=number)
        everything = store.search()
        castles = [entry.id for entry in everything if entry.prompt.startswith("castle")]
        assert [entry.id for entry in store.search(GalleryQuery(text="cas"))] == castles
        assert [e.id for e in store.search(GalleryQuery(text="cas"), offset=3, limit=2)] == (
            castles[3:5]
        )
        filtered = GalleryQuery(text="cas", created_from=everything[6].created)
        assert [e.id for e in store.search(filtered)] == [i for i in castles if i >= 6]


def test_a_large_count_is_deferred_and_can_be_interrupted(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.gallery import store as store_module

    monkeypatch.setattr(store_module, "CHEAP_COUNT", 5)
    monkeypatch.setattr(store_module, "STOP_POLL_OPS", 1)
    with GalleryStore.open() as store:
        fill_days(store, 8)
        assert store.count(GalleryQuery(text="lantern 1"), cheap_only=True) == 1
        assert store.count(cheap_only=True) == -1  # more than a page's worth: later
        assert store.count() == 8
        with pytest.raises(sqlite3.OperationalError, match="interrupted"):
            store.count(stop=lambda: True)
        assert store.count() == 8  # the connection is fine afterwards


def test_the_status_line_is_short_and_counts_what_it_found() -> None:
    report = SyncReport(entries=100_000, added=3)
    assert status_line(report) == "Checking 100,000 images… 3 new"
    report.removed, report.trashed = 2, 1
    assert status_line(report) == (
        "Checking 100,000 images… 3 new, 2 removed, 1 in or out of the trash"
    )
    assert status_line(SyncReport(moved=500)) == "Moving images into day folders… 500 moved"


def test_a_gallery_copied_with_its_index_opens_where_it_is(data_dir: Path, tmp_path: Path) -> None:
    """Folder records are relative: a moved data folder reconciles like the original."""
    with GalleryStore.open() as store:
        fill_days(store, 3)
    moved = tmp_path / "moved"
    shutil.copytree(data_dir, moved)
    with GalleryStore.open(moved) as store:
        assert store.count() == 3
        assert all(entry.path.is_relative_to(moved) for entry in store.search())


def test_damage_found_by_the_deferred_check_is_rebuilt_in_the_background(
    data_dir: Path,
) -> None:
    """Opening for the GUI skips the page-by-page check (seconds at 100,000 entries); the
    reconcile runs it first and replaces a damaged index, keeping the damaged file."""
    paths = resolve_paths()
    with GalleryStore(paths) as store:
        for number in range(60):
            add(store, f"lantern {number} " + "with a long prompt " * 20, seed=number)
    data = bytearray(paths.database_path.read_bytes())
    data[-3 * 4096 :] = os.urandom(3 * 4096)  # the last pages: not the schema on page one
    paths.database_path.write_bytes(bytes(data))

    store = GalleryStore(paths, reconcile=False)
    try:
        assert store.notices == []  # nothing noticed yet: the first page comes first
        steps = store.reconcile_steps()
        assert next(steps).reset
        assert "damaged" in store.notices[0]
        for _ in steps:
            pass
        assert store.reconcile_report is not None
        store.finish_reconcile(store.reconcile_report)
        assert store.count() == 60
        assert store.count(GalleryQuery(text="lant")) == 60
        assert list(paths.data_dir.glob("gallery.sqlite3.damaged-*"))
    finally:
        store.close()
