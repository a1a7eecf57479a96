"""The Models window: every SD2 checkpoint with its state and size, downloads with progress,
cancel, resume and delete; the user's own checkpoint files and diffusers folders.

Also the first-run banner (no model at all: what is needed, in plain words, and the two ways to
get it). The window only shows and asks: the :class:`ModelManager` does the disk and network
work on its own threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.controlnet_models import KNOWN_CONTROLNETS
from sd21_desktop.engine.downloads import DownloadProgress
from sd21_desktop.engine.model_cache import ModelStatus, human_size, storage_folder
from sd21_desktop.engine.models import DEFAULT_MODEL_ID, KNOWN_MODELS, KnownModel, known_model
from sd21_desktop.local_models import LocalModel
from sd21_desktop.qt.model_manager import ModelManager, ModelsSnapshot
from sd21_desktop.ui.widgets import accept_file_drag, dropped_files

CHECKPOINT_FILTER = "Stable Diffusion 2 checkpoints (*.safetensors *.ckpt);;All files (*)"
STATE_TEXT = {"installed": "Installed", "partial": "Partly downloaded", "missing": "Not downloaded"}


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_text(progress: DownloadProgress) -> str:
    return (
        f"{human_size(progress.done)} of {human_size(progress.total)} · "
        f"{human_size(progress.speed)}/s · {_eta(progress.eta)} left"
    )


def first_model_label() -> str:
    model = known_model(DEFAULT_MODEL_ID)
    size = human_size(model.download_size) if model is not None else ""
    return f"Download SD 2.1 ({size})"


class FirstRunBanner(QFrame):
    """Shown while no model is installed: what is needed and the two ways to get it."""

    download_requested = Signal()
    use_file_requested = Signal()

    def __init__(self, name: str = "firstRunBanner", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setStyleSheet(
            # Colours from the palette, so the text stays readable in the dark and light themes.
            f"#{name} {{ background: palette(alternate-base); border: 1px solid palette(highlight);"
            " border-radius: 4px; }"
        )
        text = QLabel(
            "<b>No model is installed yet.</b> SD21 Desktop needs the weights of a Stable "
            "Diffusion 2 model before it can make images. Download Stable Diffusion 2.1 once "
            "(it is kept in the Hugging Face cache, shared with other tools), or use a "
            ".safetensors / .ckpt file or diffusers folder you already have."
        )
        text.setObjectName("firstRunText")
        text.setWordWrap(True)
        self.download_button = QPushButton(first_model_label())
        self.download_button.setObjectName("firstRunDownloadButton")
        self.use_file_button = QPushButton("Use a file I already have")
        self.use_file_button.setObjectName("firstRunUseFileButton")
        self.download_button.clicked.connect(self.download_requested)
        self.use_file_button.clicked.connect(self.use_file_requested)
        layout = QHBoxLayout(self)
        layout.addWidget(text, 1)
        layout.addWidget(self.download_button)
        layout.addWidget(self.use_file_button)


@dataclass
class _HubRow:
    model: KnownModel
    state: QLabel
    progress: QProgressBar
    size: QLabel
    download: QPushButton
    cancel: QPushButton
    delete: QPushButton
    folder: QPushButton
    use: QPushButton


def _button(text: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    return button


def controlnet_table(make: Callable[[tuple[str, ...], str], QTableWidget]) -> QTableWidget:
    """The known SD 2.1 ControlNets: hub id, kind, what their control image shows."""
    table = make(("ControlNet", "Kind", "Control image"), "controlnetTable")
    for row, known in enumerate(KNOWN_CONTROLNETS):
        table.insertRow(row)
        table.setItem(row, 0, QTableWidgetItem(known.repo_id))
        table.setItem(row, 1, QTableWidgetItem(known.label))
        table.setItem(row, 2, QTableWidgetItem(known.expects))
    return table


class ModelsWindow(QDialog):
    """Non-modal; opened from the menu, the button beside the model box or the banner."""

    use_model = Signal(str)

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsWindow")
        self.setWindowTitle("Models")
        self.setAcceptDrops(True)
        self.resize(1220, 760)
        self.manager = manager
        self.open_folder: Callable[[Path], object] = lambda path: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(path))
        )
        self.banner = FirstRunBanner()
        self.banner.hide()
        self.banner.download_requested.connect(lambda: self.manager.download(DEFAULT_MODEL_ID))
        self.banner.use_file_requested.connect(self.choose_file)
        self.hub_table = self._table(("Model", "State", "On disk", ""), "hubModelsTable")
        # room for "1.2 GB of 5.2 GB · 12.3 MB/s · 0:06:40 left" on one line
        self.hub_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Fixed)
        self.hub_table.horizontalHeader().resizeSection(1, 330)
        self.rows: dict[str, _HubRow] = {}
        for model in KNOWN_MODELS:
            self._add_hub_row(model)
        self.local_table = self._table(("File or folder", "Kind", "On disk", ""), "localTable")
        self.local_rows: list[LocalModel] = []
        self.message = QLabel("Drop a .safetensors / .ckpt file or a diffusers folder here.")
        self.message.setObjectName("modelsMessage")
        self.message.setWordWrap(True)
        add_file = _button("Add a file…", "addModelFileButton")
        add_folder = _button("Add a folder…", "addModelFolderButton")
        add_file.clicked.connect(self.choose_file)
        add_folder.clicked.connect(self.choose_folder)
        close = _button("Close", "closeModelsButton")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(add_file)
        bottom.addWidget(add_folder)
        bottom.addWidget(self.message, 1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(QLabel("<b>Stable Diffusion 2 models</b> (Hugging Face cache)"))
        layout.addWidget(self.hub_table, 3)
        layout.addWidget(QLabel("<b>ControlNets for SD 2.1</b> (downloaded on first use)"))
        self.controlnet_table = controlnet_table(self._table)
        layout.addWidget(self.controlnet_table, 2)
        layout.addWidget(QLabel("<b>Your files and folders</b>"))
        layout.addWidget(self.local_table, 1)
        layout.addLayout(bottom)
        manager.scanned.connect(self.apply)
        manager.download_progress.connect(self.on_progress)
        manager.download_failed.connect(self.on_failed)
        manager.download_cancelled.connect(self.on_cancelled)
        manager.download_finished.connect(self.on_finished)
        manager.failed.connect(self.show_error)
        if manager.snapshot is not None:
            self.apply(manager.snapshot)

    def _table(self, headers: tuple[str, ...], name: str) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setObjectName(name)
        table.setHorizontalHeaderLabels(list(headers))
        table.verticalHeader().hide()
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(headers)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        return table

    def _add_hub_row(self, model: KnownModel) -> None:
        table, row = self.hub_table, self.hub_table.rowCount()
        table.insertRow(row)
        name = QLabel(
            f"<b>{model.label}</b><br><small>{model.purpose}<br>"
            f"<span style='color:#666'>{model.repo_id}</span></small>"
        )
        name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        state, size, progress = QLabel(), QLabel(), QProgressBar()
        progress.hide()
        cell = QWidget()
        cell_layout = QVBoxLayout(cell)
        cell_layout.setContentsMargins(4, 0, 4, 0)
        cell_layout.addWidget(state)
        cell_layout.addWidget(progress)
        slug = model.repo_id.split("/")[-1]
        widgets = _HubRow(
            model,
            state,
            progress,
            size,
            _button("Download", f"download-{slug}"),
            _button("Cancel", f"cancel-{slug}"),
            _button("Delete", f"delete-{slug}"),
            _button("Show in folder", f"folder-{slug}"),
            _button("Use", f"use-{slug}"),
        )
        repo_id = model.repo_id
        widgets.download.clicked.connect(lambda: self.start_download(repo_id))
        widgets.cancel.clicked.connect(lambda: self.manager.cancel(repo_id))
        widgets.delete.clicked.connect(lambda: self.delete(repo_id))
        widgets.folder.clicked.connect(lambda: self.show_folder(repo_id))
        widgets.use.clicked.connect(lambda: self.use_model.emit(repo_id))
        actions = QWidget()
        actions_layout = QHBoxLayout(actions)
        actions_layout.setContentsMargins(4, 0, 4, 0)
        for button in (widgets.download, widgets.cancel, widgets.use, widgets.folder):
            actions_layout.addWidget(button)
        actions_layout.addWidget(widgets.delete)
        table.setCellWidget(row, 0, name)
        table.setCellWidget(row, 1, cell)
        table.setCellWidget(row, 2, size)
        table.setCellWidget(row, 3, actions)
        table.setRowHeight(row, 64)
        self.rows[repo_id] = widgets

    # states ----------------------------------------------------------------------------------
    @Slot(object)
    def apply(self, snapshot: ModelsSnapshot) -> None:
        for repo_id, status in snapshot.hub.items():
            if repo_id in self.rows:
                self._show_state(self.rows[repo_id], status)
        self._show_local(snapshot.local)
        self.banner.setVisible(not snapshot.any_usable())

    def row_state(self, repo_id: str) -> str:
        """What the row shows: installed, partial, missing or downloading."""
        row = self.rows[repo_id]
        return "downloading" if row.cancel.isVisibleTo(self) else row.state.property("state")

    def _show_state(self, row: _HubRow, status: ModelStatus) -> None:
        downloading = self.manager.downloading(row.model.repo_id)
        row.state.setProperty("state", status.state)
        row.state.setText("Downloading" if downloading else STATE_TEXT[status.state])
        total = status.total_bytes or row.model.download_size
        if status.state == "installed":
            row.size.setText(human_size(status.bytes_on_disk))
        elif status.state == "partial":
            row.size.setText(f"{human_size(status.bytes_on_disk)} of {human_size(total)}")
        else:
            row.size.setText(f"about {human_size(row.model.download_size)}")
        row.download.setText("Resume" if status.state == "partial" else "Download")
        row.download.setVisible(status.state != "installed" and not downloading)
        row.cancel.setVisible(downloading)
        row.progress.setVisible(downloading)
        row.delete.setVisible(status.state != "missing" and not downloading)
        row.folder.setVisible(status.state != "missing")
        row.use.setVisible(status.state == "installed")

    def start_download(self, repo_id: str) -> None:
        row = self.rows[repo_id]
        self.manager.download(repo_id)
        row.download.hide()
        row.delete.hide()
        row.cancel.show()
        row.progress.show()
        row.state.setText("Downloading")
        row.progress.setRange(0, 0)  # busy until the hub answered
        row.progress.setFormat("Asking the hub…")
        self.message.setText(f"Downloading {row.model.label}…")

    @Slot(str, object)
    def on_progress(self, repo_id: str, progress: DownloadProgress) -> None:
        row = self.rows.get(repo_id)
        if row is None:
            return
        row.cancel.show()
        row.progress.show()
        row.download.hide()
        row.state.setText("Downloading")
        scale = max(progress.total // 1_000_000, 1)  # a QProgressBar holds an int
        row.progress.setRange(0, scale)
        row.progress.setValue(min(progress.done * scale // max(progress.total, 1), scale))
        phase = "Checking…" if progress.phase == "verifying" else progress_text(progress)
        row.progress.setFormat(phase)

    @Slot(str, str)
    def on_failed(self, repo_id: str, message: str) -> None:
        self.show_error(message)

    @Slot(str)
    def on_cancelled(self, repo_id: str) -> None:
        self.message.setText("Download cancelled; what was fetched is kept for Resume.")

    @Slot(str)
    def on_finished(self, repo_id: str) -> None:
        model = known_model(repo_id)
        self.message.setText(f"{model.label if model else repo_id} is installed.")

    @Slot(str)
    def show_error(self, message: str) -> None:
        self.message.setText(f"<span style='color:#b00020'>{message}</span>")

    # actions ---------------------------------------------------------------------------------
    def confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Models", question)
        return answer == QMessageBox.StandardButton.Yes

    def delete(self, repo_id: str) -> None:
        row = self.rows[repo_id]
        if self.confirm(
            f"Delete {row.model.label} ({row.size.text()}) from the Hugging Face cache? "
            "Other programs that use this cache lose it too."
        ):
            self.manager.delete(repo_id)

    def show_folder(self, repo_id: str) -> None:
        status = self.manager.snapshot.hub.get(repo_id) if self.manager.snapshot else None
        folder = status.path if status is not None and status.path else storage_folder(repo_id)
        self.open_folder(folder)

    def _show_local(self, models: list[LocalModel]) -> None:
        table = self.local_table
        table.setRowCount(0)
        self.local_rows = list(models)
        for row, model in enumerate(models):
            table.insertRow(row)
            kind = "diffusers folder" if model.kind == "folder" else "checkpoint file"
            table.setItem(row, 0, QTableWidgetItem(model.path))
            table.setItem(row, 1, QTableWidgetItem(kind if model.exists else "missing"))
            table.setItem(row, 2, QTableWidgetItem(human_size(model.size)))
            actions = QWidget()
            actions_layout = QHBoxLayout(actions)
            actions_layout.setContentsMargins(4, 0, 4, 0)
            use = _button("Use", f"useLocal{row}")
            use.setEnabled(model.exists)
            use.clicked.connect(lambda _=False, p=model.path: self.use_model.emit(p))
            folder = _button("Show in folder", f"folderLocal{row}")
            folder.clicked.connect(lambda _=False, p=model.path: self.open_folder(Path(p).parent))
            remove = _button("Remove from list", f"removeLocal{row}")
            remove.clicked.connect(lambda _=False, p=model.path: self.manager.remove_local(p))
            for button in (use, folder, remove):
                actions_layout.addWidget(button)
            table.setCellWidget(row, 3, actions)

    @Slot()
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Use a model file", "", CHECKPOINT_FILTER)
        if path:
            self.add_paths([path])

    @Slot()
    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Use a diffusers model folder")
        if path:
            self.add_paths([path])

    def add_paths(self, paths: list[str]) -> None:
        self.manager.add_local(*paths)
        self.message.setText("Checking " + ", ".join(Path(p).name for p in paths) + "…")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = dropped_files(event)
        if paths:
            self.add_paths(paths)
            event.acceptProposedAction()
