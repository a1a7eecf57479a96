"""The filmstrip: this session's images in a row under the tabs, newest first.

Click shows an image in the Result tab, a drag carries its PNG file (metadata and all) to the
canvas or to other programs, and the context menu offers the gallery's actions for it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import (
    QDrag,
    QGuiApplication,
    QIcon,
    QPainter,
    QPaintEvent,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QMenu

from sd21_desktop.engine.request import random_seed
from sd21_desktop.qt.worker import SavedImage

THUMBNAIL_SIZE = 72


def saved_image(item: QListWidgetItem | None) -> SavedImage | None:
    data: Any = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
    return data if isinstance(data, SavedImage) else None


class Filmstrip(QListWidget):
    show_requested = Signal(object)  # SavedImage
    rerun_requested = Signal(object, int)  # request, batch index to keep (-1: all)
    parameters_requested = Signal(object)  # GenerationRequest
    send_to_canvas_requested = Signal(str)  # path
    upscale_requested = Signal(str, str)  # path, prompt
    delete_requested = Signal(list)  # gallery entry ids
    message = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("recentView")
        self.setAccessibleName("Images made in this session")
        self.setToolTip("This session's images: click to show, drag to the canvas, "
                        "right-click for more")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.setGridSize(QSize(THUMBNAIL_SIZE + 8, THUMBNAIL_SIZE + 8))
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.itemClicked.connect(self._emit_show)
        self.itemActivated.connect(self._emit_show)
        bar = self.horizontalScrollBar().sizeHint().height()
        self.setMinimumHeight(THUMBNAIL_SIZE + 12 + bar)
        self.setMaximumHeight(THUMBNAIL_SIZE + 16 + bar)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        super().paintEvent(event)
        if self.count() == 0:  # say what the empty strip is for
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.viewport().rect(),
                Qt.AlignmentFlag.AlignCenter,
                "This session's images will line up here.",
            )

    def add_image(self, saved: SavedImage, prompt: str) -> None:
        thumbnail = saved.image.scaled(
            THUMBNAIL_SIZE,
            THUMBNAIL_SIZE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        item = QListWidgetItem(QIcon(QPixmap.fromImage(thumbnail)), "")
        item.setToolTip(f"{prompt}\nseed {saved.seed}\n{saved.path}")
        item.setData(Qt.ItemDataRole.UserRole, saved)
        self.insertItem(0, item)

    @Slot(QListWidgetItem)
    def _emit_show(self, item: QListWidgetItem) -> None:
        saved = saved_image(item)
        if saved is not None:
            self.show_requested.emit(saved)

    # dragging out -----------------------------------------------------------------------------
    def mimeData(self, items: Any) -> QMimeData:  # noqa: N802 - Qt override
        """The file's URL (so its metadata travels) and the picture itself."""
        mime = QMimeData()
        chosen = [saved for saved in map(saved_image, items) if saved is not None]
        mime.setUrls([QUrl.fromLocalFile(saved.path) for saved in chosen])
        if chosen:
            mime.setImageData(chosen[0].image)
        return mime

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt override
        return ["text/uri-list", "application/x-qt-image"]

    def startDrag(self, actions: Qt.DropAction) -> None:  # noqa: N802 - Qt override
        items = self.selectedItems()
        if not items:
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData(items))
        drag.setPixmap(items[0].icon().pixmap(self.iconSize()))
        drag.exec(Qt.DropAction.CopyAction)

    # the context menu -------------------------------------------------------------------------
    def actions_for(self, saved: SavedImage) -> list[tuple[str, Any]]:
        """The menu's entries for one image: (label, callable)."""
        entry = saved.entry
        request = getattr(entry, "request", None)
        prompt = getattr(entry, "prompt", "") or (request.prompt if request is not None else "")
        actions: list[tuple[str, Any]] = [("Show", lambda: self.show_requested.emit(saved))]
        if request is not None:
            one = request.replace(seed=saved.seed, batch_size=1)
            actions += [
                ("Re-run exactly", lambda: self.rerun_requested.emit(request, saved.batch_index)),
                ("Re-run with a new seed",
                 lambda: self.rerun_requested.emit(one.replace(seed=random_seed()), -1)),
                ("Load parameters into the editor", lambda: self.parameters_requested.emit(one)),
            ]
        actions += [
            ("Send to canvas", lambda: self.send_to_canvas_requested.emit(saved.path)),
            ("Upscale ×4…", lambda: self.upscale_requested.emit(saved.path, prompt)),
            ("Copy image", lambda: self._copy(saved)),
        ]
        if entry is not None:
            actions.append(("Delete (to the gallery's trash)", lambda: self._delete(saved)))
        return actions

    def _copy(self, saved: SavedImage) -> None:
        QGuiApplication.clipboard().setImage(saved.image)
        self.message.emit("Image copied to the clipboard.")

    def _delete(self, saved: SavedImage) -> None:
        if saved.entry is None:
            return
        self.delete_requested.emit([saved.entry.id])
        for row in range(self.count()):
            if saved_image(self.item(row)) is saved:
                self.takeItem(row)
                break
        self.message.emit("Moved to the gallery's trash (restore it from the gallery's Trash).")

    def build_menu(self, saved: SavedImage) -> QMenu:
        menu = QMenu(self)
        for label, slot in self.actions_for(saved):
            menu.addAction(label).triggered.connect(slot)
        return menu

    @Slot(QPoint)
    def _context_menu(self, position: QPoint) -> None:
        saved = saved_image(self.itemAt(position))
        if saved is not None:
            self.build_menu(saved).exec(self.viewport().mapToGlobal(position))
