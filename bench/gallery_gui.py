"""The gallery browser with 10,000 (or 100,000) entries: time to a first screen of thumbnails
(cache warm), how smooth scrolling through everything is, and memory growth meanwhile.

    python bench/gallery_gui.py [--count 100000 --direct]

``--direct`` builds the index rows straight and hard-links the files (see gallery_scale.py).
Smoothness: the longest and the 95th-percentile time the GUI thread spends on one scroll step
(a jump of a few screens, then handling every event it caused), while the background reconcile
and the thumbnail threads run. Targets: first screen ≤ 300 ms; a scroll step ≤ 50 ms at p95;
memory growth of the open gallery ≤ 150 MB however far it scrolls.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:  # current (not peak) resident size, Linux
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--direct", action="store_true", help="index rows written directly")
    args = parser.parse_args()

    from gallery_scale import percentile, write_direct, write_entries
    from PySide6.QtCore import QElapsedTimer, QPoint
    from PySide6.QtWidgets import QApplication

    from sd21_desktop.app import create_app
    from sd21_desktop.gallery.store import GalleryStore
    from sd21_desktop.paths import resolve_paths

    work = Path(tempfile.mkdtemp())
    data = work / "data"
    paths = resolve_paths(data)
    if args.direct:
        write_direct(paths, args.count, random.Random(7))
    else:
        write_entries(paths.gallery_dir, args.count, random.Random(7))
    print("files and index written; first open…", file=sys.stderr, flush=True)
    with GalleryStore(paths):  # build (or check) the index and record the folders once
        pass
    print("opened; first screens…", file=sys.stderr, flush=True)

    def visible_ready(window) -> bool:  # type: ignore[no-untyped-def]
        view, model = window.gallery_panel.view, window.gallery_panel.model
        if model.rowCount() == 0:
            return False
        viewport = view.viewport().rect()
        rows = [
            row
            for row in range(min(model.rowCount(), 400))
            if view.visualRect(model.index(row)).intersects(viewport)
        ]
        cache = window.controller.thumbnails
        return bool(rows) and all(cache.get(model.entry(row)) is not None for row in rows)

    def open_first_screen() -> tuple[float, object]:
        clock = QElapsedTimer()
        clock.start()
        _, window = create_app(["--data-dir", str(data)])
        window.resize(1400, 900)
        window.tabs.setCurrentWidget(window.gallery_panel)
        window.show()
        window_times.append(clock.nsecsElapsed() / 1e6)
        while not visible_ready(window):
            QApplication.processEvents()
            time.sleep(0.001)
            if clock.elapsed() > 30_000:
                raise SystemExit("the first screen did not load in 30 s")
        return clock.nsecsElapsed() / 1e6, window

    def entries_shown(panel) -> bool:  # type: ignore[no-untyped-def]
        """Every row the view shows holds its whole entry (its page has come)."""
        view, model = panel.view, panel.model
        bottom = view.viewport().rect().bottom()
        row = view.indexAt(QPoint(view.gridSize().width() // 2, 4)).row()
        if row < 0:
            return False
        while row < model.rowCount() and view.visualRect(model.index(row)).top() <= bottom:
            if model.entry(row) is None:
                return False
            row += 1
        return True

    window_times: list[float] = []
    app = QApplication.instance() or QApplication([])
    _, warm_up = open_first_screen()  # makes the disk thumbnails: later runs are cache-warm
    warm_up.controller.shutdown()  # type: ignore[attr-defined]
    warm_up.deleteLater()
    app.processEvents()
    times = []
    for _ in range(args.runs):
        elapsed, window = open_first_screen()
        times.append(elapsed)
        window.controller.shutdown()  # type: ignore[attr-defined]
        window.deleteLater()
        app.processEvents()

    print("scrolling…", file=sys.stderr, flush=True)
    before = rss_mb()
    _, window = open_first_screen()
    panel = window.gallery_panel
    scrolled, scrolled_cpu = time.perf_counter(), time.process_time()
    steps: list[float] = []
    stride = max(50, args.count // 400)  # a few screens per step; 400 steps all the way down
    waits: list[float] = []
    view, bar = panel.view, panel.view.verticalScrollBar()
    columns = max(1, view.viewport().width() // view.gridSize().width())
    laid_out = (args.count // columns - 10) * view.gridSize().height()
    started = time.perf_counter()
    while bar.maximum() < laid_out:  # the view lays its items out in batches first
        app.processEvents()
        time.sleep(0.001)
    print(f"view laid out {args.count} items in {time.perf_counter() - started:.1f} s",
          file=sys.stderr, flush=True)
    missed = 0
    row = 0
    while row < args.count:  # scroll to the end; the view asks for the pages it shows
        started = time.perf_counter()
        while row >= panel.model.rowCount():  # only before the count has come
            if panel.model.canFetchMore():
                panel.model.fetchMore()
            app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() - started > 60:
                model = panel.model
                raise SystemExit(f"no page for row {row} in 60 s "
                                 f"(model rows {model.rowCount()}, total {model.total})")
        started = time.perf_counter()
        panel.view.scrollTo(panel.model.index(row))
        app.processEvents()
        steps.append((time.perf_counter() - started) * 1000)
        shown = view.indexAt(QPoint(view.gridSize().width() // 2, 4)).row()
        missed += not row - 8 * columns <= shown <= row
        while not entries_shown(panel):  # the page of what the view shows, from the thread
            app.processEvents()
            time.sleep(0.001)
            if time.perf_counter() - started > 60:
                raise SystemExit(f"the rows at {row} were not filled in 60 s")
        waits.append((time.perf_counter() - started) * 1000)
        row += stride
    deadline = time.perf_counter() + 120
    while window.controller.thumbnails.pool.activeThreadCount() and time.perf_counter() < deadline:  # type: ignore[attr-defined]
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    growth = rss_mb() - before
    print(
        f"{args.count} entries; first screen of thumbnails (cache warm), "
        f"median of {args.runs}: {statistics.median(times):.0f} ms "
        f"(min {min(times):.0f}, max {max(times):.0f}; target <= 300 ms)"
    )
    print(f"of which building and showing the window: {statistics.median(window_times[1:]):.0f} ms")
    ordered = sorted(steps)
    p95 = percentile(steps, 0.95)
    print(f"scrolling: {len(steps)} steps of {stride} rows; GUI thread per step median "
          f"{statistics.median(steps):.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms "
          f"(target p95 <= 50 ms); visible rows filled after median "
          f"{statistics.median(waits):.0f} ms, p95 {percentile(waits, 0.95):.0f} ms; "
          f"{missed} steps did not reach their row")
    kept = window.controller.thumbnails.memory_items()  # type: ignore[attr-defined]
    print(f"memory growth after opening and scrolling through all {args.count} entries: "
          f"{growth:.0f} MB (target <= 150 MB); scrolling took "
          f"{time.perf_counter() - scrolled:.1f} s ({time.process_time() - scrolled_cpu:.1f} s "
          f"CPU of this process, all threads); {kept} thumbnails kept in memory; "
          f"{panel.model.rowCount()} rows in the model")
    window.controller.shutdown()  # type: ignore[attr-defined]
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
