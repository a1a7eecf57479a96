"""The LoRAs and embeddings in their folders, for the prompt editor (listed off the GUI thread).

The folders are watched (``QFileSystemWatcher``), so a file added or removed while the app runs
shows up without a restart; each scan lists the folders on the thread pool and reads how many
vectors each embedding holds (the token counter counts them). torch is imported there only if a
``.pt`` embedding needs it, never at import time.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from PySide6.QtCore import QFileSystemWatcher, QObject, QRunnable, QThreadPool, Signal, Slot

from sd21_desktop.engine.networks import NetworkFolders, list_files


@dataclass(frozen=True)
class NetworkEntry:
    kind: str
    """"lora" or "embedding"."""
    name: str
    size: int
    vectors: int | None = None
    """Embeddings: how many vectors (tokens) it takes; None if the file cannot be read."""


def scan_folders(folders: NetworkFolders) -> list[NetworkEntry]:
    from sd21_desktop.engine.embeddings import vector_count

    entries = [
        NetworkEntry("lora", item.name, item.size) for item in list_files(folders.loras, "lora")
    ]
    for item in list_files(folders.embeddings, "embedding"):
        entries.append(NetworkEntry("embedding", item.name, item.size, vector_count(item.path)))
    return entries


class _Relay(QObject):
    scanned = Signal(int, list)  # scan number, list[NetworkEntry]


class _Scan(QRunnable):
    def __init__(self, relay: _Relay, number: int, folders: NetworkFolders) -> None:
        super().__init__()
        self.relay, self.number, self.folders = relay, number, folders

    def run(self) -> None:
        entries = scan_folders(self.folders)
        with contextlib.suppress(RuntimeError):  # the library was deleted before the scan ended
            self.relay.scanned.emit(self.number, entries)


class NetworkLibrary(QObject):
    changed = Signal(list)  # list[NetworkEntry]

    def __init__(self, folders: NetworkFolders, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folders = folders
        self.entries: list[NetworkEntry] = []
        self._scans = 0
        self._relay = _Relay(self)
        self._relay.scanned.connect(self._on_scanned)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self.rescan)
        self._watch()

    def _watch(self) -> None:
        watched = self._watcher.directories()
        if watched:
            self._watcher.removePaths(watched)
        for folder in (self.folders.embeddings, self.folders.loras):
            if folder.is_dir():
                self._watcher.addPath(str(folder))

    def set_folders(self, folders: NetworkFolders) -> None:
        if folders != self.folders:
            self.folders = folders
            self._watch()
            self.rescan()

    @Slot()
    def rescan(self) -> None:
        self._scans += 1
        QThreadPool.globalInstance().start(_Scan(self._relay, self._scans, self.folders))

    @Slot(int, list)
    def _on_scanned(self, number: int, entries: list[NetworkEntry]) -> None:
        if number == self._scans:  # an older scan finishing late is stale
            self.entries = entries
            self.changed.emit(entries)
