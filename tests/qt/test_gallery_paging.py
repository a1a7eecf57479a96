"""The window's gallery pages through 100,000 entries as the view scrolls down: every page
arrives in order while the background reconcile and the thumbnail threads run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QAbstractItemView, QApplication, QListView
from pytestqt.qtbot import QtBot

from sd21_desktop.gallery.schema import open_index, transaction
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from sd21_desktop.qt.gallery_model import KEEP_FULL, PAGE_SIZE, GalleryModel
from sd21_desktop.ui.main_window import MainWindow
from tests.gallery.test_store_scale import write_png
from tests.qt.conftest import close_window

BIG = 100_000
PER_FOLDER = 1000
START = 1.6e9


def write_big_gallery(data_dir: Path) -> None:
    """100,000 index rows written directly in day-sized folders, each file a hard link to one
    real PNG (as bench/gallery_scale.py --direct does): seconds instead of minutes."""
    paths = resolve_paths(data_dir).ensure()
    connection = open_index(paths.database_path).connection
    rows = []
    for number in range(BIG):
        folder = time.strftime("%Y-%m-%d", time.localtime(START + number // PER_FOLDER * 86400))
        name = f"{folder}/big-{number:06d}.png"
        if number % PER_FOLDER == 0:
            (paths.gallery_dir / folder).mkdir()
        if number % 50_000 == 0:  # a file system allows some 65,000 links per file
            source = data_dir / f"source-{number}.png"
            write_png(source, number, "a castle", START)
        os.link(source, paths.gallery_dir / name)
        created = START + number // PER_FOLDER * 86400 + number % PER_FOLDER
        rows.append((name, created, f"a castle number {number}"))
    with transaction(connection):
        connection.executemany(
            "INSERT INTO entries (file_name, created, origin, prompt, width, height) "
            "VALUES (?, ?, 'generated', ?, 64, 64)",
            rows,
        )
    connection.close()


@pytest.fixture
def big_window(qapp: QApplication, data_dir: Path) -> Iterator[MainWindow]:
    from sd21_desktop.app import create_app

    write_big_gallery(data_dir)
    _, window = create_app(["--data-dir", str(data_dir)])
    window.resize(1400, 900)
    window.tabs.setCurrentWidget(window.gallery_panel)
    window.show()
    yield window
    close_window(window)


def visible_rows(view: QListView) -> range:
    viewport = view.viewport().rect()
    first = view.indexAt(QPoint(view.gridSize().width() // 2, 4)).row()
    last = view.indexAt(viewport.bottomRight() - QPoint(4, 4)).row()
    return range(first, (last if last >= 0 else first) + 1)


def shows_its_rows(model: GalleryModel, view: QListView) -> bool:
    """Every visible row holds its whole entry: row r is entry number BIG - 1 - r."""
    rows = visible_rows(view)
    entries = [model.entry(row) for row in rows]
    return rows.start >= 0 and all(
        entry is not None and entry.file_name.endswith(f"big-{BIG - 1 - row:06d}.png")
        for row, entry in zip(rows, entries, strict=True)
    )


def test_scrolling_pages_through_100000_entries_and_keeps_its_place(
    qtbot: QtBot, data_dir: Path, big_window: MainWindow
) -> None:
    panel = big_window.gallery_panel
    model, view = panel.model, panel.view
    bar = view.verticalScrollBar()
    # The count makes every row at once (those not fetched are placeholders): the view lays
    # its items out once, however far it scrolls.
    qtbot.waitUntil(lambda: model.rowCount() == BIG, timeout=30_000)
    assert model.counted
    columns = max(1, view.viewport().width() // view.gridSize().width())
    qtbot.waitUntil(lambda: bar.maximum() >= (BIG // columns - 10) * view.gridSize().height(),
                    timeout=30_000)
    inserted: list[int] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append(last - first + 1))

    # Down through several thousand rows a few screens at a time, then far jumps.
    for target in [*range(600, 6001, 900), 60_000, BIG - 1]:
        view.scrollTo(model.index(target), QAbstractItemView.ScrollHint.PositionAtTop)
        position = bar.value()
        qtbot.waitUntil(lambda: shows_its_rows(model, view), timeout=20_000)
        assert bar.value() == position  # the pages arriving did not move the view
    assert inserted == []  # pages fill rows in place
    assert model.full_entries() <= KEEP_FULL + 2 * PAGE_SIZE  # memory stays bounded

    # A new image while the view is far down: the first row moves down by one, the view stays.
    view.scrollTo(model.index(60_000), QAbstractItemView.ScrollHint.PositionAtTop)
    qtbot.waitUntil(lambda: shows_its_rows(model, view), timeout=20_000)
    top = visible_rows(view).start
    newest = model.entry(60_000)
    assert newest is not None
    model.prepend([replace(newest, id=BIG + 1, created=time.time())])
    qtbot.waitUntil(lambda: visible_rows(view).start >= top, timeout=20_000)
    qtbot.wait(200)
    assert top <= visible_rows(view).start <= top + columns

    with GalleryStore(resolve_paths(data_dir), reconcile=False) as store:
        assert store.count() == BIG  # the background reconcile removed nothing
