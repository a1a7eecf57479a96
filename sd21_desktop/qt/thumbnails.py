"""Gallery thumbnails: made off the GUI thread, cached on disk, a bounded set kept in memory.

A thumbnail is a JPEG under the cache folder named after the entry's id and time, so a warm
start reads small files instead of decoding full PNGs. Decoding and scaling run on a thread pool;
the GUI thread only turns the finished QImage into a QPixmap. At most ``MEMORY_ITEMS`` pixmaps
stay in memory (least recently used go first), which bounds memory however large the gallery.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from sd21_desktop.gallery.entries import GalleryEntry

THUMBNAIL_SIDE = 160
MEMORY_ITEMS = 800  # 800 x 160 x 160 x 4 bytes ≈ 80 MB at most


def thumbnail_file(cache_dir: Path, entry: GalleryEntry) -> Path:
    return cache_dir / f"{entry.id}-{int(entry.created * 1000)}.jpg"


def make_thumbnail(source: Path, target: Path) -> QImage:
    """Read the cached thumbnail, or decode and scale the image and cache the result."""
    if target.is_file():
        cached = QImage(str(target))
        if not cached.isNull():
            return cached
    from PIL import Image, ImageOps

    with Image.open(source) as opened:
        opened.draft("RGB", (THUMBNAIL_SIDE * 2, THUMBNAIL_SIDE * 2))  # fast path for JPEG
        image = ImageOps.exif_transpose(opened)
        image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        rgb = image.convert("RGB")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    rgb.save(temporary, format="JPEG", quality=88)
    temporary.replace(target)
    return QImage(str(target))


class _Relay(QObject):
    done = Signal(int, QImage)


class _Job(QRunnable):
    def __init__(self, entry: GalleryEntry, target: Path, relay: _Relay) -> None:
        super().__init__()
        self.entry, self.target, self.relay = entry, target, relay

    def run(self) -> None:
        try:
            image = make_thumbnail(self.entry.path, self.target)
        except Exception:  # an unreadable file gets the placeholder, not a crash
            image = QImage()
        with contextlib.suppress(RuntimeError):  # the gallery closed meanwhile
            self.relay.done.emit(self.entry.id, image)


class ThumbnailCache(QObject):
    thumbnail_ready = Signal(int)  # entry id

    def __init__(self, cache_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._pending: set[int] = set()
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)

    def get(self, entry: GalleryEntry) -> QPixmap | None:
        """The pixmap if ready; else None and a load starts (``thumbnail_ready`` follows)."""
        pixmap = self._pixmaps.get(entry.id)
        if pixmap is not None:
            self._pixmaps.move_to_end(entry.id)
            return pixmap
        if entry.id not in self._pending:
            self._pending.add(entry.id)
            self.pool.start(_Job(entry, thumbnail_file(self.cache_dir, entry), self._relay))
        return None

    def forget(self, entry_id: int) -> None:
        self._pixmaps.pop(entry_id, None)

    def memory_items(self) -> int:
        return len(self._pixmaps)

    @Slot(int, QImage)
    def _on_done(self, entry_id: int, image: QImage) -> None:
        self._pending.discard(entry_id)
        if image.isNull():
            image = QImage(THUMBNAIL_SIDE, THUMBNAIL_SIDE, QImage.Format.Format_RGB888)
            image.fill(Qt.GlobalColor.darkGray)
        self._pixmaps[entry_id] = QPixmap.fromImage(image)
        while len(self._pixmaps) > MEMORY_ITEMS:
            self._pixmaps.popitem(last=False)
        self.thumbnail_ready.emit(entry_id)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()
