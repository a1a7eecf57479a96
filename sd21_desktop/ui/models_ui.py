"""Ties the model manager to the main window: the Models window (menu, the button beside the
model box), the first-run banner, and a Generate button that says what is missing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QBoxLayout

from sd21_desktop.engine.models import DEFAULT_MODEL_ID, known_model
from sd21_desktop.qt.model_manager import ModelManager, ModelsSnapshot
from sd21_desktop.ui.models_window import FirstRunBanner, ModelsWindow

if TYPE_CHECKING:
    from sd21_desktop.ui.main_window import MainWindow

GENERATE = "Generate"
GENERATE_MISSING = "Generate: model missing"


class ModelsUi(QObject):
    def __init__(self, window: MainWindow, manager: ModelManager) -> None:
        super().__init__(window)
        self.window, self.manager = window, manager
        self.models_window: ModelsWindow | None = None
        self.banner = FirstRunBanner("mainFirstRunBanner")
        self.banner.hide()
        central = window.centralWidget()
        layout = central.layout() if central is not None else None
        if isinstance(layout, QBoxLayout):
            layout.insertWidget(1, self.banner)  # below the message bar
        self.banner.download_requested.connect(self.download_first_model)
        self.banner.use_file_requested.connect(self.use_own_file)
        window.model_gate = manager.missing_message
        window.models_window_requested.connect(self.open)
        window.parameters.models_requested.connect(self.open)
        window.parameters.model_changed.connect(self.update_generate_button)
        manager.scanned.connect(self.on_scanned)
        manager.local_added.connect(self.use)
        manager.refresh()

    @Slot()
    @Slot(str)
    def open(self, model: str = "") -> ModelsWindow:
        if self.models_window is None:
            self.models_window = ModelsWindow(self.manager, self.window)
            self.models_window.use_model.connect(self.use)
        self.models_window.show()
        if QGuiApplication.platformName() != "offscreen":  # it cannot raise (and says so)
            self.models_window.raise_()
        self.models_window.activateWindow()
        return self.models_window

    @Slot()
    def download_first_model(self) -> None:
        self.open().start_download(DEFAULT_MODEL_ID)

    @Slot()
    def use_own_file(self) -> None:
        self.open().choose_file()

    @Slot(str)
    def use(self, model: str) -> None:
        """Select ``model`` in the model box (a hub id or a path)."""
        combo = self.window.parameters.model_combo
        if combo.findText(model) < 0:
            combo.addItem(model, model)
        combo.setCurrentText(model)
        self.window.show_status(f"Model: {model}")

    @Slot(object)
    def on_scanned(self, snapshot: ModelsSnapshot) -> None:
        current = self.window.parameters.model()
        own_model = bool(current) and known_model(current) is None  # a path, another hub id
        self.banner.setVisible(not snapshot.any_usable() and not own_model)
        combo = self.window.parameters.model_combo
        for local in snapshot.local:
            if local.exists and combo.findText(local.path) < 0:
                combo.addItem(local.path, local.path)
        self.update_generate_button()

    @Slot()
    @Slot(str)
    def update_generate_button(self, _model: str = "") -> None:
        missing = self.manager.missing_message(self.window.parameters.model())
        button = self.window.generate_button
        if missing:
            button.setText(GENERATE_MISSING)
        else:
            self.window.canvas_flow.refresh()  # "Inpaint 1024×560 of 1408×768" and the like
        button.setToolTip(
            missing + " Click to open the Models window."
            if missing
            else "Generate (Ctrl+Enter); while a job runs, queues another"
        )

    def shutdown(self) -> None:
        self.manager.shutdown()
