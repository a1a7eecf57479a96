"""The gallery thread serves the index first and reconciles the folder afterwards, in steps,
sending what it finds to the list model."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from sd21_desktop.gallery.entries import GalleryEntry, GalleryQuery
from sd21_desktop.gallery.layout import GalleryLayout
from sd21_desktop.gallery.schema import open_index, transaction
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import AppPaths, resolve_paths
from sd21_desktop.qt import gallery_service
from sd21_desktop.qt.gallery_model import PAGE_SIZE, GalleryModel
from sd21_desktop.qt.gallery_service import GalleryService
from sd21_desktop.qt.thumbnails import ThumbnailCache
from tests.gallery.test_store_scale import write_png
from tests.gallery.test_store_support import add

BIG = 100_000


@pytest.fixture(scope="session")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of 100,000 rows (written directly; their files are not needed here)."""
    path = tmp_path_factory.mktemp("big") / "gallery.sqlite3"
    connection = open_index(path).connection
    with transaction(connection):
        connection.execute(
            "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < ?) "
            "INSERT INTO entries (file_name, created, origin, prompt, width, height) "
            "SELECT '2020-09-13/big-' || x || '.png', 1.6e9 + x, 'generated', "
            "'a castle ' || x, 64, 64 FROM n",
            (BIG - 1,),
        )
    connection.close()
    return path


def test_the_first_page_of_100000_is_served_before_any_folder_is_listed(
    qtbot: QtBot, data_dir: Path, big_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_paths().ensure()
    shutil.copy(big_index, paths.database_path)
    events: list[object] = []
    real_list, real_scandir = GalleryLayout.list_folder, os.scandir

    def list_folder(layout: GalleryLayout, folder: str) -> object:
        events.append("list")
        return real_list(layout, folder)

    def scandir(*args: object) -> object:
        events.append("scandir")
        return real_scandir(*args)  # type: ignore[call-overload]

    monkeypatch.setattr(GalleryLayout, "list_folder", list_folder)
    monkeypatch.setattr(os, "scandir", scandir)
    service = GalleryService(paths)
    service.page_loaded.connect(lambda _t, entries, total, _o: events.append((len(entries), total)))
    service.count_loaded.connect(lambda _token, total: events.append(("count", total)))
    try:
        service.open_store()
        service.latest_token = 1
        service.load_page(1, GalleryQuery(), 0, PAGE_SIZE)
        # The page (newest first, its count still to come) before any look at a folder.
        assert events == [(PAGE_SIZE, -1)]
        assert service.store.search(limit=1)[0].file_name == f"2020-09-13/big-{BIG - 1}.png"
        qtbot.waitUntil(lambda: "list" in events, timeout=20_000)
        assert events.index(("count", BIG)) < events.index("list")
    finally:
        service.close_store()


def wire(service: GalleryService, model: GalleryModel) -> None:
    """As the app does (here on one thread)."""
    model.page_requested.connect(service.load_page)
    service.page_loaded.connect(model.on_page_loaded)
    service.count_loaded.connect(model.on_count_loaded)
    model.on_request = service.page_asked
    service.reconcile_changed.connect(model.on_reconciled)
    service.reconcile_finished.connect(lambda _notices: model.on_reconcile_finished())


def ids(model: GalleryModel) -> list[int]:
    """The ids of the rows (None: a row not fetched yet)."""
    return [getattr(model.entry(row), "id", None) for row in range(model.rowCount())]


def live_ids(paths: AppPaths, query: GalleryQuery | None = None) -> list[int]:
    with GalleryStore(paths, reconcile=False) as store:
        return [entry.id for entry in store.search(query, limit=1000)]


def test_files_changed_while_closed_reach_the_list_model(
    qtbot: QtBot, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_paths()
    with GalleryStore(paths) as store:
        for number in range(4):
            add(store, f"lantern {number}", seed=number)
        entries = store.search()
        store.set_favourite(entries[2].id, True)
    entries[0].path.unlink()  # deleted by hand
    trash = paths.data_dir / "trash" / entries[1].file_name
    trash.parent.mkdir(parents=True, exist_ok=True)
    os.replace(entries[1].path, trash)  # moved to the trash by hand
    write_png(paths.gallery_dir / "2019-05-06" / "old.png", 40, "an old one", 1557100800.0)
    write_png(paths.gallery_dir / "new.png", 41, "a new one", time.time() + 60)

    monkeypatch.setattr(gallery_service, "QUIET_S", 0.0)
    monkeypatch.setattr(gallery_service, "STEP_BUDGET_S", 0.0)  # one step per turn
    service = GalleryService(paths)
    model = GalleryModel(ThumbnailCache(data_dir / "thumbs"))
    ModelTester(None).check(model)  # type: ignore[arg-type]
    wire(service, model)
    statuses: list[str] = []
    service.reconcile_status.connect(statuses.append)
    try:
        with qtbot.waitSignal(service.reconcile_finished, timeout=20_000):
            service.open_store()
            model.refresh()
        assert ids(model) == live_ids(paths)
        assert model.total == 4
        shown = {model.entry(row).prompt: model.entry(row) for row in range(4)}  # type: ignore[union-attr]
        # entries[0] (deleted) and entries[1] (trashed) were the newest two.
        assert set(shown) == {"lantern 0", "lantern 1", "an old one", "a new one"}
        assert shown["lantern 1"].favourite
        assert ids(model)[0] == shown["a new one"].id  # newest first
        assert ids(model)[-1] == shown["an old one"].id
        assert statuses[-1] == ""
        assert any(status.startswith("Checking 4 images…") for status in statuses)

        model.set_query(GalleryQuery(in_trash=True))
        qtbot.waitUntil(lambda: ids(model) == [entries[1].id])
    finally:
        service.close_store()


def entry(entry_id: int, created: float, deleted: bool = False) -> GalleryEntry:
    return GalleryEntry(
        id=entry_id, path=Path(f"/x/{entry_id}.png"), file_name=f"{entry_id}.png",
        created=created, origin="generated", source=None, has_metadata=False, prompt="",
        negative_prompt="", model=None, mode=None, width=64, height=64, seed=None,
        batch_index=0, request_json=None, runtime={}, details={}, favourite=False, deleted=deleted,
    )


def test_found_entries_go_to_their_place_and_the_model_stays_bounded(
    qapp: object, tmp_path: Path
) -> None:
    model = GalleryModel(ThumbnailCache(tmp_path))
    ModelTester(None).check(model)  # type: ignore[arg-type]
    requested: list[int] = []
    model.page_requested.connect(lambda _t, _q, offset, _l: requested.append(offset))
    model.refresh()
    loaded = [entry(number, 1000.0 - number) for number in range(PAGE_SIZE)]
    model.on_page_loaded(1, loaded, 5000, 0)  # the first page of 5,000
    assert model.rowCount() == 5000  # the rest are rows not fetched yet
    assert not model.canFetchMore()
    model.on_reconciled(
        [entry(9001, 999.5), entry(9002, 10.0), entry(9003, 5000.0, deleted=True)],
        [entry(3, 997.0, deleted=True)],
        [],
        [(5, False), (7777, False), (8888, True)],
    )
    rows = ids(model)
    assert rows[:3] == [0, 9001, 1]  # 999.5 goes between 1000 and 999
    assert not {3, 5, 9003} & set(rows)
    # 9002 is older than every row fetched: one more row not fetched yet; 7777 (not fetched)
    # was one of them. 5000 + 2 found - 1 moved to the trash - 2 live ones removed:
    assert model.total == model.rowCount() == 4999
    assert rows[PAGE_SIZE - 1 :] == [None] * (4999 - PAGE_SIZE + 1)
    assert not model.canFetchMore()

    # Found entries newer than every row go in whole; a rebuild finding thousands older ones
    # adds rows to fetch (placeholders), not entries held in memory.
    model.on_reconciled([entry(20_000 + n, 2000.0 + n) for n in range(3)], [], [], [])
    model.on_reconciled([entry(30_000 + n, 5.0 - n / 1000) for n in range(3000)], [], [], [])
    assert ids(model)[:3] == [20_002, 20_001, 20_000]
    assert model.rowCount() == 4999 + 3 + 3000
    assert model.full_entries() == PAGE_SIZE + 1 - 2 + 3  # 9001 in, 3 and 5 out, 3 new

    # Rows fetched far down make two stretches not fetched: a removal the model has not
    # fetched could be in either, so the query runs again once the reconcile is done.
    model.on_page_loaded(1, [entry(40_000 + n, 1.0 - n / 1e6) for n in range(PAGE_SIZE)], -1, 4000)
    assert ids(model)[4000] == 40_000
    requested.clear()
    model.on_reconciled([], [], [], [(7778, False)])
    model.on_reconcile_finished()
    assert requested == [0]


def test_rows_scrolled_far_away_shrink_and_come_back(
    qapp: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import Qt

    from sd21_desktop.qt import gallery_model

    monkeypatch.setattr(gallery_model, "KEEP_FULL", 400)
    model = GalleryModel(ThumbnailCache(tmp_path))
    ModelTester(None).check(model)  # type: ignore[arg-type]
    requested: list[int] = []
    model.page_requested.connect(lambda _t, _q, offset, _l: requested.append(offset))
    model.refresh()
    every = [entry(number, 100_000.0 - number) for number in range(3000)]
    for offset in range(0, 3000, PAGE_SIZE):  # scroll to the end, page by page
        model.on_page_loaded(1, every[offset : offset + PAGE_SIZE], 3000, offset)
    assert model.rowCount() == 3000
    assert model.entry(2999) is not None  # near where the view is: whole
    assert model.entry(5) is None  # far away: a stub
    assert sum(model.entry(row) is not None for row in range(3000)) <= 400 + 2 * PAGE_SIZE
    assert model.row_of(5) == 5  # the order and the ids stay

    requested.clear()
    assert model.data(model.index(5), Qt.ItemDataRole.DecorationRole) is not None  # placeholder
    model.data(model.index(7))
    assert requested == [0]  # one request for the page of those rows
    model.on_page_loaded(1, every[0:PAGE_SIZE], -1, 0)
    assert model.entry(5) == every[5]
    assert model.rowCount() == 3000  # the page came back in place, no reset


def test_a_running_count_gives_way_to_the_pages_asked_for_and_runs_again(
    qtbot: QtBot, data_dir: Path, big_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting 100,000 matches must not hold up the page the view asks for meanwhile."""
    paths = resolve_paths().ensure()
    shutil.copy(big_index, paths.database_path)
    service = GalleryService(paths)
    events: list[object] = []
    service.page_loaded.connect(lambda _t, _entries, _total, offset: events.append(offset))
    service.count_loaded.connect(lambda _token, total: events.append(("count", total)))
    real_stop = service._stop_count  # noqa: SLF001

    def view_scrolls_while_counting(token: int) -> Callable[[], bool]:
        stop = real_stop(token)

        def poll() -> bool:
            if PAGE_SIZE not in asked:  # the GUI thread asks for the next page meanwhile
                asked.append(PAGE_SIZE)
                service.page_asked(token)
            return stop()

        return poll

    asked: list[int] = []
    monkeypatch.setattr(service, "_stop_count", view_scrolls_while_counting)
    try:
        service.open_store()
        service.page_asked(1)
        service.load_page(1, GalleryQuery(), 0, PAGE_SIZE)
        service._count_deferred()  # noqa: SLF001 — the timer's turn: the count starts
        assert events == [0]  # … and stopped for the page asked for meanwhile
        service.load_page(1, GalleryQuery(), PAGE_SIZE, PAGE_SIZE)
        qtbot.waitUntil(lambda: ("count", BIG) in events, timeout=20_000)
        assert events == [0, PAGE_SIZE, ("count", BIG)]  # counted again after that page
    finally:
        service.close_store()
