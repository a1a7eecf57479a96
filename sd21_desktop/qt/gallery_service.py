"""The gallery's own thread: every store call the GUI makes (queries, favourites, deletes,
imports) runs here, so the GUI thread never waits on SQLite or the disk.

Opening serves the index as it is; the first page goes out before any folder is looked at.
Then the reconcile with the folder runs here in short steps between the GUI's requests (each
step is a zero-timeout timer, so a page asked for meanwhile is answered first), sending what it
finds to the list model as it goes and a quiet status line ("Checking 100,000 images… 3 new").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.gallery.sync import SyncStep, status_line
from sd21_desktop.paths import AppPaths

STEP_BUDGET_S = 0.04
"""Reconcile work done per turn of the gallery thread's event loop (then requests go first)."""
QUIET_S = 0.5
"""A check that ends sooner says nothing."""
START_ANYWAY_MS = 1000
"""The reconcile starts after the first page; without a page request, after this long."""


class GalleryService(QObject):
    page_loaded = Signal(int, list, int, int)  # token, entries, total (-1: counting), offset
    count_loaded = Signal(int, int)  # token, total of the query of that token
    reconcile_changed = Signal(list, list, list, list)  # added, changed, moved entries, removed
    reconcile_status = Signal(str)  # "Checking 100,000 images… 3 new"; "" when done
    reconcile_finished = Signal(list)  # notices for the user
    entries_changed = Signal(list)  # entries after favourite / delete / restore
    import_finished = Signal(object)  # ImportReport
    import_progress = Signal(int, int)  # done, total
    failed = Signal(str)
    facets_loaded = Signal(list, list)  # models, sizes
    store_opened = Signal(list)  # notices for the user

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        self._store: GalleryStore | None = None
        self._steps: Iterator[SyncStep] | None = None
        self._counts: list[tuple[int, GalleryQuery]] = []
        self._reconciling = False
        self._started = 0.0
        self.latest_token = 0
        """The newest page token the model asked for (set from the GUI thread): a deferred
        count of an older query is dropped, and one running is interrupted."""
        self._asked = 0
        """Pages asked for and not served yet: a count running meanwhile stops for them and
        starts again after them (counting a million matches takes a second or more)."""
        self._asked_lock = threading.Lock()
        self.ready = threading.Event()
        """Set once the store is open (or failed to open): the engine worker waits on it."""

    @property
    def store(self) -> GalleryStore:
        if self._store is None:
            raise UserFacingError("The gallery is not open.", "See the message at the top.")
        return self._store

    def store_if_open(self) -> GalleryStore | None:
        self.ready.wait()
        return self._store

    @Slot()
    def open_store(self) -> None:
        """Open (and if needed rebuild) the index here, not on the GUI thread."""
        try:
            self._store = GalleryStore(self.paths, reconcile=False)
            self._steps = self._store.reconcile_steps()
            self.store_opened.emit(list(self._store.notices))
            QTimer.singleShot(START_ANYWAY_MS, self._start_reconcile)
        except UserFacingError as error:
            self.failed.emit(
                f"The gallery could not be opened: {error} New images are still "
                f"saved in {self.paths.gallery_dir}."
            )
        except Exception as error:
            self.failed.emit(
                f"The gallery could not be opened ({type(error).__name__}: "
                f"{error}). New images are still saved in {self.paths.gallery_dir}."
            )
        finally:
            self.ready.set()

    @Slot()
    def close_store(self) -> None:
        """Close; a reconcile under way stops between two steps and goes on next time."""
        self._steps = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def page_asked(self, token: int) -> None:
        """Called on the GUI thread as the model asks for a page (before the request arrives)."""
        with self._asked_lock:
            self.latest_token = token
            self._asked += 1

    @Slot(int, object, int, int)
    def load_page(self, token: int, query: GalleryQuery, offset: int, limit: int) -> None:
        """One page now; its count when the page tells it (a short first page), else later:
        counting a million matches must not delay the page (nor the next keystroke's)."""
        with self._asked_lock:
            self._asked = max(0, self._asked - 1)
        try:
            entries = self.store.search(query, offset, limit)
            total = len(entries) if offset == 0 and len(entries) < limit else -1
        except Exception as error:  # a damaged index must not kill the thread
            shown = error if isinstance(error, (UserFacingError, OSError)) else (
                f"{type(error).__name__}: {error}"
            )
            self.failed.emit(f"The gallery could not be read: {shown}")
            # An empty page still answers: the model stops waiting for it (and asks again
            # when those rows are painted next).
            self.page_loaded.emit(token, [], -1 if offset else 0, offset)
            return
        self.page_loaded.emit(token, entries, total, offset)
        if offset == 0 and total < 0:
            self._counts.append((token, query))
        if self._counts:
            QTimer.singleShot(0, self._count_deferred)
        self._start_reconcile()

    @Slot()
    def _count_deferred(self) -> None:
        """The exact count of a query whose page already went out, unless a newer one came;
        pages asked for meanwhile go first (the count starts again after them)."""
        while self._counts and not self._asked:
            token, query = self._counts.pop(0)
            if token != self.latest_token or self._store is None:
                continue
            try:
                total = self._store.count(query, stop=self._stop_count(token))
            except Exception:  # interrupted, or the store closed: no count now
                if token == self.latest_token and self._asked and self._store is not None:
                    self._counts.insert(0, (token, query))  # again after those pages
                continue
            self.count_loaded.emit(token, total)

    def _stop_count(self, token: int) -> Callable[[], bool]:
        return lambda: token != self.latest_token or self._asked > 0

    # reconcile ---------------------------------------------------------------------------------
    @Slot()
    def _start_reconcile(self) -> None:
        if self._steps is not None and not self._reconciling:
            self._reconciling = True
            self._started = time.monotonic()
            QTimer.singleShot(0, self._reconcile_step)

    @Slot()
    def _reconcile_step(self) -> None:
        """Some steps of the reconcile (about :data:`STEP_BUDGET_S`), then the next turn."""
        steps, store = self._steps, self._store
        if steps is None or store is None:
            return
        found, done = SyncStep(), False
        began = time.monotonic()
        try:
            while True:  # at least one step a turn, then as many as fit the budget
                step = next(steps, None)
                if step is None:
                    done = True
                    break
                found.extend(step)
                if time.monotonic() - began >= STEP_BUDGET_S:
                    break
        except Exception as error:  # the folder or index went wrong: report, keep the app
            self._steps = None
            self.reconcile_status.emit("")
            self.failed.emit(f"Checking the gallery folder failed: {error}")
            return
        if found.reset:  # a damaged index was replaced: the view starts again
            self.store_opened.emit(list(store.notices))
        elif found:
            self.reconcile_changed.emit(
                store.find_many(found.added),
                store.find_many(found.changed),
                store.find_many(found.moved),
                found.removed,
            )
        if done:
            self._steps = None
            self.reconcile_status.emit("")
            if store.reconcile_report is not None:
                self.reconcile_finished.emit(store.finish_reconcile(store.reconcile_report))
            return
        self._status()
        QTimer.singleShot(0, self._reconcile_step)

    def _status(self) -> None:
        report = self.store.reconcile_report
        if report is not None and time.monotonic() - self._started >= QUIET_S:
            self.reconcile_status.emit(status_line(report))

    @Slot()
    def load_facets(self) -> None:
        try:
            self.facets_loaded.emit(self.store.models(), self.store.sizes())
        except Exception as error:
            self.failed.emit(f"The gallery could not be read: {error}")

    def _each(self, ids: list[int], action: Any) -> None:
        changed = []
        for entry_id in ids:
            try:
                changed.append(action(entry_id))
            except UserFacingError as error:
                self.failed.emit(str(error))
            except OSError as error:
                self.failed.emit(f"Entry #{entry_id}: {error.strerror or error}")
        if changed:
            self.entries_changed.emit(changed)

    @Slot(list, bool)
    def set_favourite(self, ids: list[int], favourite: bool) -> None:
        self._each(ids, lambda entry_id: self.store.set_favourite(entry_id, favourite))

    @Slot(list, str)
    def set_rerun_model(self, ids: list[int], model: str) -> None:
        self._each(ids, lambda entry_id: self.store.set_rerun_model(entry_id, model))

    @Slot(list)
    def delete(self, ids: list[int]) -> None:
        self._each(ids, self.store.delete)

    @Slot(list)
    def restore(self, ids: list[int]) -> None:
        self._each(ids, self.store.restore)

    @Slot(list)
    def import_paths(self, paths: list[str]) -> None:
        try:
            report = self.store.import_files(paths)
        except UserFacingError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:
            self.failed.emit(f"Import failed: {type(error).__name__}: {error}")
            return
        self.import_finished.emit(report)
