"""The gallery browser: search and filters, a thumbnail grid, and a detail pane with actions.

All store work goes through the gallery thread (``GalleryService``); this widget only sends
requests and shows answers.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.request import GenerationRequest, random_seed
from sd21_desktop.errors import InvalidRequestError
from sd21_desktop.gallery.entries import GalleryEntry, GalleryQuery
from sd21_desktop.qt.gallery_model import GalleryModel
from sd21_desktop.qt.thumbnails import THUMBNAIL_SIDE
from sd21_desktop.ui.gallery_details import GalleryDetails
from sd21_desktop.ui.scroll_anchor import ScrollAnchor

DATE_RANGES = {"Any time": None, "Today": 1, "Last 7 days": 7, "Last 30 days": 30}
MODES = ("txt2img", "img2img", "inpaint", "depth", "upscale")


class GalleryPanel(QWidget):
    rerun_requested = Signal(object, int)  # request, batch index to keep (-1: all)
    parameters_requested = Signal(object)  # GenerationRequest
    send_to_canvas_requested = Signal(str)  # image path
    upscale_requested = Signal(str, str)  # image path, its prompt
    favourite_requested = Signal(list, bool)
    rerun_model_requested = Signal(list, str)  # entry ids, model an imported entry re-runs with
    delete_requested = Signal(list)
    restore_requested = Signal(list)
    import_requested = Signal(list)  # paths
    facets_requested = Signal()
    message = Signal(str)

    def __init__(self, model: GalleryModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("galleryPanel")
        self.model = model
        self.last_deleted: list[int] = []
        self.setAcceptDrops(True)

        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("gallerySearchEdit")
        self.search_edit.setAccessibleName("Search prompts")
        self.search_edit.setPlaceholderText("Search prompts… (words match as you type)")
        self.search_edit.setClearButtonEnabled(True)
        self.model_filter = self._combo("galleryModelFilter", "Model filter", ["All models"])
        self.mode_filter = self._combo("galleryModeFilter", "Mode filter", ["All modes", *MODES])
        self.date_filter = self._combo("galleryDateFilter", "Date filter", list(DATE_RANGES))
        self.size_filter = self._combo("gallerySizeFilter", "Size filter", ["Any size"])
        self.favourites_check = QCheckBox("★ only")
        self.favourites_check.setObjectName("galleryFavouritesCheck")
        self.trash_check = QCheckBox("Trash")
        self.trash_check.setObjectName("galleryTrashCheck")
        self.count_label = QLabel("")
        self.count_label.setObjectName("galleryCountLabel")
        self.status_label = QLabel("")  # the background check of the folder, quietly
        self.status_label.setObjectName("galleryStatusLabel")
        self.status_label.setEnabled(False)

        self.view = QListView()
        self.view.setObjectName("galleryView")
        self.view.setAccessibleName("Gallery")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        self.view.setGridSize(QSize(THUMBNAIL_SIDE + 16, THUMBNAIL_SIDE + 28))
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.setModel(model)
        self._scroll_anchor = ScrollAnchor(self.view)
        self.details = GalleryDetails()

        filters = QHBoxLayout()
        filters.addWidget(self.search_edit, 3)
        for widget in (
            self.model_filter,
            self.mode_filter,
            self.date_filter,
            self.size_filter,
            self.favourites_check,
            self.trash_check,
        ):
            filters.addWidget(widget)
        actions = QHBoxLayout()
        import_files = QPushButton("Import images…")
        import_files.setObjectName("galleryImportButton")
        import_folder = QPushButton("Import folder…")
        import_folder.setObjectName("galleryImportFolderButton")
        self.undo_delete_button = QPushButton("Undo delete")
        self.undo_delete_button.setObjectName("galleryUndoDeleteButton")
        self.undo_delete_button.setEnabled(False)
        actions.addWidget(self.count_label)
        actions.addWidget(self.status_label, 1)
        actions.addWidget(self.undo_delete_button)
        actions.addWidget(import_files)
        actions.addWidget(import_folder)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setObjectName("gallerySplitter")
        splitter.addWidget(self.view)
        # The details scroll on a short window instead of raising its minimum height.
        details_scroll = QScrollArea()
        details_scroll.setObjectName("galleryDetailsScroll")
        details_scroll.setWidget(self.details)
        details_scroll.setWidgetResizable(True)
        details_scroll.setFrameShape(QFrame.Shape.NoFrame)
        details_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        details_scroll.setMinimumWidth(self.details.minimumSizeHint().width() + 16)
        splitter.addWidget(details_scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        self._sized = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addLayout(actions)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self.apply_filters)
        self.search_edit.textChanged.connect(self._debounce.start)
        for combo in (self.model_filter, self.mode_filter, self.date_filter, self.size_filter):
            combo.currentIndexChanged.connect(self.apply_filters)
        self.favourites_check.toggled.connect(self.apply_filters)
        self.trash_check.toggled.connect(self.apply_filters)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.doubleClicked.connect(lambda _index: self.load_parameters())
        model.loaded.connect(self._update_count)
        model.rowsInserted.connect(self._update_count)
        model.rowsRemoved.connect(self._update_count)
        model.dataChanged.connect(self._refresh_details)
        import_files.clicked.connect(self.choose_files)
        import_folder.clicked.connect(self.choose_folder)
        self.undo_delete_button.clicked.connect(self.undo_delete)
        self.details.action_triggered.connect(self._on_detail_action)
        self.details.model_chosen.connect(self._on_model_chosen)
        self._add_shortcuts()

    @staticmethod
    def _combo(name: str, accessible: str, items: list[str]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.setAccessibleName(accessible)
        combo.addItems(items)
        # Sized by a few characters, not by the longest item (the popup still shows it whole),
        # so the filter row fits the gallery on a 1024-pixel window.
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(3)
        return combo

    def _add_shortcuts(self) -> None:
        for keys, slot in (
            (QKeySequence.StandardKey.Delete, self.delete_selected),
            (QKeySequence.StandardKey.Undo, self.undo_delete),
            (QKeySequence("F"), self.toggle_favourite),
            (QKeySequence("Ctrl+R"), self.rerun_exact),
        ):
            action = QAction(self.view)
            action.setShortcut(keys)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(slot)
            self.view.addAction(action)

    # query -----------------------------------------------------------------------------------
    def current_query(self) -> GalleryQuery:
        days = DATE_RANGES[self.date_filter.currentText()]
        size = self.size_filter.currentData()
        return GalleryQuery(
            text=self.search_edit.text().strip(),
            model=self.model_filter.currentText() if self.model_filter.currentIndex() > 0 else None,
            mode=self.mode_filter.currentText() if self.mode_filter.currentIndex() > 0 else None,
            created_from=time.time() - days * 86400 if days else None,
            width=size[0] if size else None,
            height=size[1] if size else None,
            favourites_only=self.favourites_check.isChecked(),
            in_trash=self.trash_check.isChecked(),
        )

    @Slot()
    def apply_filters(self) -> None:
        self.model.set_query(self.current_query())

    @Slot(list, list)
    def on_facets_loaded(self, models: list[str], sizes: list[tuple[int, int]]) -> None:
        current_model, current_size = (
            self.model_filter.currentText(),
            self.size_filter.currentText(),
        )
        for combo in (self.model_filter, self.size_filter):
            combo.blockSignals(True)
        while self.model_filter.count() > 1:
            self.model_filter.removeItem(1)
        self.model_filter.addItems(models)
        while self.size_filter.count() > 1:
            self.size_filter.removeItem(1)
        for width, height in sizes:
            self.size_filter.addItem(f"{width}×{height}", (width, height))
        self.model_filter.setCurrentIndex(max(self.model_filter.findText(current_model), 0))
        self.size_filter.setCurrentIndex(max(self.size_filter.findText(current_size), 0))
        for combo in (self.model_filter, self.size_filter):
            combo.blockSignals(False)

    @Slot()
    def _update_count(self) -> None:
        shown = "in the trash" if self.trash_check.isChecked() else "images"
        more = "" if self.model.counted else "+"
        self.count_label.setText(f"{self.model.total:,}{more} {shown}")

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.status_label.setText(text)

    # selection -------------------------------------------------------------------------------
    def selected_entries(self) -> list[GalleryEntry]:
        rows = sorted({index.row() for index in self.view.selectionModel().selectedIndexes()})
        entries = [self.model.entry(row) for row in rows]
        return [entry for entry in entries if entry is not None]

    def current_entry(self) -> GalleryEntry | None:
        index = self.view.currentIndex()
        return self.model.entry(index.row()) if index.isValid() else None

    @Slot()
    def _on_current_changed(self) -> None:
        self.details.show_entry(self.current_entry())

    @Slot()
    def _refresh_details(self) -> None:
        entry = self.current_entry()
        if entry is not None and entry != self.details.entry:
            self.details.show_entry(entry)

    # actions ---------------------------------------------------------------------------------
    @Slot(str)
    def _on_detail_action(self, name: str) -> None:
        {
            "rerun": self.rerun_exact,
            "rerun_new_seed": self.rerun_new_seed,
            "variations": self.make_variations,
            "load": self.load_parameters,
            "favourite": self.toggle_favourite,
            "delete": self.delete_selected,
            "reveal": self.reveal,
            "canvas": self.send_to_canvas,
        }[name]()

    @Slot(str)
    def _on_model_chosen(self, model: str) -> None:
        entry = self.details.entry
        if entry is not None:
            self.rerun_model_requested.emit([entry.id], model)

    @Slot()
    def rerun_exact(self) -> None:
        entry = self.current_entry()
        if entry is None or entry.request is None:
            self.message.emit("This image carries no settings to re-run.")
            return
        self.rerun_requested.emit(entry.request, entry.batch_index)

    @Slot()
    def make_variations(self) -> None:
        """N images around this one: its seed, random variation seeds, the chosen strength."""
        from sd21_desktop.ui.variations_dialog import ask_for_variations

        entry = self.current_entry()
        if entry is None or entry.request is None or entry.seed is None:
            self.message.emit("This image carries no settings to vary.")
            return
        try:
            requests = ask_for_variations(self, entry.request, entry.seed)
        except InvalidRequestError as error:
            self.message.emit(str(error))
            return
        for request in requests:
            self.rerun_requested.emit(request, -1)

    @Slot()
    def rerun_new_seed(self) -> None:
        entry = self.current_entry()
        if entry is None or entry.request is None:
            self.message.emit("This image carries no settings to re-run.")
            return
        self.rerun_requested.emit(entry.request.replace(seed=random_seed(), batch_size=1), -1)

    @Slot()
    def load_parameters(self) -> None:
        entry = self.current_entry()
        if entry is not None and entry.request is not None:
            request: GenerationRequest = entry.request
            if request.batch_size > 1:  # load this image's own seed
                request = request.replace(
                    seed=entry.seed if entry.seed is not None else request.seed, batch_size=1
                )
            self.parameters_requested.emit(request)

    @Slot()
    def toggle_favourite(self) -> None:
        entries = self.selected_entries()
        if entries:
            self.favourite_requested.emit(
                [e.id for e in entries], not all(e.favourite for e in entries)
            )

    @Slot()
    def delete_selected(self) -> None:
        entries = self.selected_entries()
        if not entries:
            return
        ids = [entry.id for entry in entries]
        if self.trash_check.isChecked():
            self.restore_requested.emit(ids)
            return
        self.last_deleted = ids
        self.delete_requested.emit(ids)
        self.undo_delete_button.setEnabled(True)
        self.message.emit(
            f"Moved {len(ids)} image(s) to the trash. Undo with Ctrl+Z or “Undo delete”."
        )

    @Slot()
    def undo_delete(self) -> None:
        if self.last_deleted:
            self.restore_requested.emit(self.last_deleted)
            self.last_deleted = []
            self.undo_delete_button.setEnabled(False)

    @Slot()
    def reveal(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(entry.path.parent)))

    @Slot()
    def send_to_canvas(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            self.send_to_canvas_requested.emit(str(entry.path))

    @Slot()
    def upscale(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            self.upscale_requested.emit(str(entry.path), entry.prompt)

    def _context_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        for label, slot in (
            ("Re-run exactly", self.rerun_exact),
            ("Re-run with a new seed", self.rerun_new_seed),
            ("Variations…", self.make_variations),
            ("Load parameters into the editor", self.load_parameters),
            ("Send to canvas", self.send_to_canvas),
            ("Upscale ×4…", self.upscale),
            ("Toggle favourite", self.toggle_favourite),
            ("Copy image", self.details.copy_image),
            ("Copy prompt", self.details.copy_prompt),
            ("Copy seed", self.details.copy_seed),
            ("Show file in folder", self.reveal),
            ("Restore" if self.trash_check.isChecked() else "Delete", self.delete_selected),
        ):
            menu.addAction(label).triggered.connect(slot)
        menu.exec(self.view.viewport().mapToGlobal(position))

    # importing -------------------------------------------------------------------------------
    @Slot()
    def choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import images", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
        )
        if paths:
            self.import_requested.emit(paths)

    @Slot()
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of images")
        if folder:
            self.import_requested.emit([folder])

    def showEvent(self, event: object) -> None:  # noqa: N802
        super().showEvent(event)  # type: ignore[arg-type]
        if not self._sized:  # the grid gets 60 % of the width the first time it shows
            self._sized = True
            width = max(self.splitter.width(), 600)
            self.splitter.setSizes([width * 3 // 5, width * 2 // 5])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and event.source() is not self.view:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.import_requested.emit(paths)
            event.acceptProposedAction()

    def import_done_message(self, added: int, problems: list[str], skipped: int = 0) -> None:
        text = f"Imported {added} image(s)."
        if skipped:
            text += f" Skipped {skipped} already in the gallery."
        if problems:
            text += f" {len(problems)} could not be imported: " + "; ".join(problems[:3])
        self.message.emit(text)
        self.facets_requested.emit()
        self.model.refresh()

    def first_paths(self) -> list[Path]:
        return [entry.path for entry in self.selected_entries()]
