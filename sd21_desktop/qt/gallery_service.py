"""The gallery's own thread: every store call the GUI makes (queries, favourites, deletes,
imports) runs here, so the GUI thread never waits on SQLite or the disk.
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import AppPaths


class GalleryService(QObject):
    page_loaded = Signal(int, list, int, int)  # token, entries, total, offset
    entries_changed = Signal(list)  # entries after favourite / delete / restore
    import_finished = Signal(object)  # ImportReport
    import_progress = Signal(int, int)  # done, total
    failed = Signal(str)
    facets_loaded = Signal(list, list)  # models, sizes
    store_opened = Signal(list)  # notices for the user
    rebuild_progress = Signal(int, int)

    def __init__(self, paths: AppPaths) -> None:
        super().__init__()
        self.paths = paths
        self._store: GalleryStore | None = None
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
            self._store = GalleryStore(self.paths, self.rebuild_progress.emit)
            self.store_opened.emit(list(self._store.notices))
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
        if self._store is not None:
            self._store.close()
            self._store = None

    @Slot(int, object, int, int)
    def load_page(self, token: int, query: GalleryQuery, offset: int, limit: int) -> None:
        try:
            total = self.store.count(query)
            entries = self.store.search(query, offset, limit)
        except (UserFacingError, OSError) as error:
            self.failed.emit(f"The gallery could not be read: {error}")
            return
        except Exception as error:  # a damaged index must not kill the thread
            self.failed.emit(f"The gallery could not be read: {type(error).__name__}: {error}")
            return
        self.page_loaded.emit(token, entries, total, offset)

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
