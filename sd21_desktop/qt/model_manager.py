"""The Models window's worker: scans, downloads, deletions and additions, off the GUI thread.

Every disk or network task runs on this object's own thread pool; results come back as signals
(queued to the GUI thread). Downloads can run side by side, one per model; cancel sets the
download's event and the transfer stops within one chunk, keeping its bytes for a resume.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from sd21_desktop.engine.model_cache import ModelStatus, human_size, known_model_status
from sd21_desktop.engine.models import KNOWN_MODELS, known_model
from sd21_desktop.errors import UserFacingError
from sd21_desktop.local_models import LocalModel, LocalModels


@dataclass(frozen=True)
class ModelsSnapshot:
    """What a scan found: the known models' states and the user's own files."""

    hub: dict[str, ModelStatus]
    local: list[LocalModel]

    def any_usable(self) -> bool:
        return any(s.state == "installed" for s in self.hub.values()) or any(
            m.exists for m in self.local
        )


class _Task(QRunnable):
    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__()
        self.work = work

    def run(self) -> None:
        self.work()


class ModelManager(QObject):
    scanned = Signal(object)  # ModelsSnapshot
    download_progress = Signal(str, object)  # repo id, DownloadProgress
    download_finished = Signal(str)
    download_failed = Signal(str, str)  # repo id, message
    download_cancelled = Signal(str)
    local_added = Signal(str)
    failed = Signal(str)  # a message for anything else (delete, add)

    def __init__(self, local_store: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.local = LocalModels(local_store)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(4)
        self.snapshot: ModelsSnapshot | None = None
        self._cancels: dict[str, threading.Event] = {}
        self.scanned.connect(self._remember)

    # reading ---------------------------------------------------------------------------------
    @Slot(object)
    def _remember(self, snapshot: ModelsSnapshot) -> None:
        self.snapshot = snapshot

    def refresh(self) -> None:
        """Scan the cache and the user's files again (off the GUI thread); emits ``scanned``."""
        self._start(self._scan)

    def _scan(self) -> None:
        hub = {model.repo_id: known_model_status(model.repo_id) for model in KNOWN_MODELS}
        self.scanned.emit(ModelsSnapshot(hub, self.local.scan()))

    def downloading(self, repo_id: str) -> bool:
        return repo_id in self._cancels

    def missing_message(self, model: str) -> str | None:
        """Why ``model`` cannot run yet (a known hub model not fully downloaded), from the
        last scan; None when it can, or when that is not known without touching the disk."""
        known = known_model(model)
        status = self.snapshot.hub.get(model) if self.snapshot is not None else None
        if known is None or status is None or status.state == "installed":
            return None
        size = human_size(known.download_size)
        if self.downloading(model):
            return f"{known.label} is still downloading; Generate works once it is complete."
        if status.state == "partial":
            return (
                f"{known.label} is only partly downloaded ({human_size(status.bytes_on_disk)} "
                f"of about {size}). Resume it in the Models window."
            )
        return (
            f"{known.label} is not downloaded yet (about {size}). Download it in the Models "
            "window, or choose a model file you already have."
        )

    # changing --------------------------------------------------------------------------------
    def download(self, repo_id: str) -> None:
        if repo_id in self._cancels:
            return
        cancel = threading.Event()
        self._cancels[repo_id] = cancel
        self._start(lambda: self._download(repo_id, cancel))

    def _download(self, repo_id: str, cancel: threading.Event) -> None:
        from sd21_desktop.engine.downloads import DownloadCancelled, download_model

        try:
            download_model(repo_id, lambda p: self.download_progress.emit(repo_id, p), cancel)
        except DownloadCancelled:
            self._cancels.pop(repo_id, None)
            self.download_cancelled.emit(repo_id)
        except UserFacingError as error:
            self._cancels.pop(repo_id, None)
            self.download_failed.emit(repo_id, str(error))
        except Exception as error:  # nothing escapes a pool thread
            self._cancels.pop(repo_id, None)
            self.download_failed.emit(repo_id, f"The download failed: {error}")
        else:
            self._cancels.pop(repo_id, None)
            self.download_finished.emit(repo_id)
        self._scan()

    def cancel(self, repo_id: str) -> None:
        event = self._cancels.get(repo_id)
        if event is not None:
            event.set()

    def delete(self, repo_id: str) -> None:
        from sd21_desktop.engine.model_cache import delete_model

        self.cancel(repo_id)
        self._start(lambda: self._guarded(lambda: delete_model(repo_id)))

    def add_local(self, *paths: str) -> None:
        """Check and add files or folders, in the order given (one task: a drop keeps its order)."""

        def add(path: str) -> None:
            model = self.local.add(path)
            self.local_added.emit(model.path)

        def add_all() -> None:
            for path in paths:
                self._guarded(functools.partial(add, path))

        self._start(add_all)

    def remove_local(self, path: str) -> None:
        self._start(lambda: self._guarded(lambda: self.local.remove(path)))

    def _guarded(self, work: Callable[[], Any]) -> None:
        try:
            work()
        except UserFacingError as error:
            self.failed.emit(str(error))
        except OSError as error:
            self.failed.emit(f"{error.strerror or error}: {error.filename or ''}".strip(": "))
        self._scan()

    def _start(self, work: Callable[[], None]) -> None:
        self.pool.start(_Task(work))

    def shutdown(self) -> None:
        """Stop downloads (their bytes stay for a resume) and wait for the pool."""
        for event in list(self._cancels.values()):
            event.set()
        self.pool.waitForDone(10_000)
