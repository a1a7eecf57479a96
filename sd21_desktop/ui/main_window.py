"""The main window: prompt and parameters on the left, the result in the middle, the queue and
the gallery on the right. It never runs model code: it builds requests, hands them to the job
queue, and shows what the worker reports.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop import APP_NAME
from sd21_desktop.engine.request import MAX_SEED, GenerationRequest
from sd21_desktop.errors import InvalidRequestError, UserFacingError
from sd21_desktop.prompt_history import PromptHistory
from sd21_desktop.qt.gallery_model import GalleryModel
from sd21_desktop.qt.gui_collector import install_gui_collector
from sd21_desktop.qt.jobs import JobQueue
from sd21_desktop.qt.worker import SavedImage
from sd21_desktop.settings import AppSettings
from sd21_desktop.ui.filmstrip import Filmstrip
from sd21_desktop.ui.gallery_panel import GalleryPanel
from sd21_desktop.ui.grid_panel import GridPanel
from sd21_desktop.ui.help import DisabledExplainer
from sd21_desktop.ui.icons import set_icon
from sd21_desktop.ui.layout_state import restore_layout, store_layout
from sd21_desktop.ui.widgets import accept_file_drag, dropped_files

if TYPE_CHECKING:
    from sd21_desktop.engine.flavour import BuildReport
    from sd21_desktop.ui.canvas_tab import CanvasTab
from sd21_desktop.ui.message_bar import MessageBar
from sd21_desktop.ui.metadata_drop import MetadataRead, ReadMetadata
from sd21_desktop.ui.parameters_panel import MODES_WITH_STRENGTH, ParametersPanel
from sd21_desktop.ui.prompt_editor import PromptEditor
from sd21_desktop.ui.queue_panel import QueuePanel
from sd21_desktop.ui.result_view import ResultView
from sd21_desktop.ui.status_clock import StatusClock, minutes_seconds
from sd21_desktop.ui.theme import set_text_role
from sd21_desktop.ui.tooltips import apply_tooltips
from sd21_desktop.ui.window_layout import (
    CollapsiblePanel,
    centre_column,
    fit_to_screen,
    left_column,
)


def _no_gate(model: str) -> str | None:
    return None


class MainWindow(QMainWindow):
    depth_estimate_requested = Signal(object, str)  # PIL image, model → worker
    annotate_requested = Signal(object, str, object)  # PIL image, preprocessor, folder → worker
    models_window_requested = Signal(str)  # the model to show ("" for none)

    def __init__(
        self,
        settings: AppSettings,
        history: PromptHistory,
        queue: JobQueue,
        gallery_model: GalleryModel,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        install_gui_collector()  # cycles are freed on this thread, never the worker's
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setAccessibleName(APP_NAME)
        self.settings = settings
        self.queue = queue
        self.closing = False
        self.engine_info: dict[str, str] = {}
        self.build: BuildReport | None = None  # once the worker has probed (on_build_checked)
        self._control_depth = False
        """The pending depth estimate is for a control layer, not depth mode's panel."""
        self.inputs_folder: Path | None = None
        """Where control images are stored (the app sets it): Load parameters reads them."""
        self.annotators_default: Path | None = None
        """<data-dir>/models/annotators (the app sets it): where hed/lineart/openpose weights
        are looked for unless the settings name another folder."""
        self.model_gate: Callable[[str], str | None] = _no_gate
        """Why the chosen model cannot run yet (not downloaded), set by the models UI."""
        self.setAcceptDrops(True)
        self._metadata_read = MetadataRead(self)
        self._metadata_read.done.connect(self._on_metadata_read)

        self.message_bar = MessageBar()
        self.prompt_editor = PromptEditor(history)
        self.parameters = ParametersPanel()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setAccessibleName("Generate")
        set_icon(self.generate_button, "creation",
                 "Generate (Ctrl+Enter); while a job runs, queues another (CLI: generate)")
        self.generate_button.setDefault(True)
        set_text_role(self.generate_button, "accent")
        self.cancel_button = QPushButton("")
        self.cancel_button.setObjectName("cancelButton")
        set_icon(self.cancel_button, "stop", "Cancel the running job (Esc); nothing is saved")
        self.cancel_button.setAccessibleName("Cancel the running job")
        self.cancel_button.setEnabled(False)

        controls_layout = QVBoxLayout()
        controls_layout.addWidget(self.prompt_editor)
        controls_layout.addWidget(self.parameters)
        controls_layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        self.cancel_button.setMinimumHeight(self.generate_button.sizeHint().height())
        controls = left_column(controls_layout, buttons)

        self.result_view = ResultView()

        self.queue_panel = QueuePanel(queue)
        self.queue_view = self.queue_panel.view
        self.recent_view = Filmstrip()
        self.gallery_panel = GalleryPanel(gallery_model)
        self.gallery_view = self.gallery_panel.view
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.tabBar().setChangeCurrentOnDrag(True)  # drag a filmstrip image to the canvas
        # The canvas (and numpy with it) is built the first time it is needed, not at start-up.
        self._canvas_tab: CanvasTab | None = None
        self._canvas_placeholder = QWidget()
        self._canvas_placeholder.setObjectName("canvasPlaceholder")
        self.tabs.addTab(self.result_view, "Result")
        self.tabs.addTab(self._canvas_placeholder, "Canvas")
        self.tabs.currentChanged.connect(self._build_canvas_when_shown)
        self.tabs.addTab(self.gallery_panel, "Gallery")
        self.side_panel = CollapsiblePanel("Queue", "sidePanel", self.queue_panel)
        self.grid_panel = GridPanel()
        self.tabs.addTab(self.grid_panel, "Grid")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(controls)
        self.centre_splitter = centre_column(self.tabs, self.recent_view)
        self.splitter.addWidget(self.centre_splitter)
        self.splitter.addWidget(self.side_panel)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setCollapsible(2, False)
        self.splitter.setSizes([380, 1000, 200])

        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(6, 6, 6, 6)
        central_layout.addWidget(self.message_bar)
        central_layout.addWidget(self.queue_panel.recovery_strip)
        central_layout.addWidget(self.queue_panel.save_strip)
        central_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setAccessibleName("Generation progress")
        self.progress_bar.setMaximumWidth(260)
        self.progress_bar.setFormat("idle")
        self.progress_bar.setValue(0)
        self._stage = ""  # the running stage of the job's plan, shown in the bar
        self.speed_label = QLabel("")
        self.speed_label.setObjectName("speedLabel")
        self.status_label = QLabel("Ready")
        self.status_label.setObjectName("statusLabel")
        self.status_clock = StatusClock()
        self.statusBar().addWidget(self.status_label, 1)
        self.statusBar().addWidget(self.status_clock)
        self.statusBar().addPermanentWidget(self.speed_label)
        self.statusBar().addPermanentWidget(self.progress_bar)

        self._build_menus()
        self.generate_button.clicked.connect(self.generate)
        self.prompt_editor.generate_requested.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel_running)
        self.parameters.validity_changed.connect(self._on_validity_changed)
        self.explainer = DisabledExplainer(self.show_status, self)
        self.explainer.watch(self.generate_button, self._why_generate_is_off)
        self.explainer.watch(self.cancel_button, lambda: "Cancel is off: no job is running.")
        for name, button in self.result_view.buttons.items():
            if name in ("saveAsButton", "copyButton", "toCanvasButton"):
                self.explainer.watch(button, lambda: "No finished image yet: Generate first.")
        self.result_view.message.connect(self.show_status)
        queue.busy_changed.connect(self._on_busy_changed)
        self._connect_filmstrip()
        apply_tooltips(self)
        self.gallery_panel.rerun_requested.connect(self.rerun)
        self.result_view.rerun_requested.connect(self.rerun)
        self.gallery_panel.parameters_requested.connect(self.load_request)
        self.gallery_panel.message.connect(self.show_status)
        self.gallery_panel.send_to_canvas_requested.connect(self.open_on_canvas)
        self.gallery_panel.upscale_requested.connect(self.upscale_on_canvas)
        self.parameters.mode_changed.connect(self._on_mode_changed)
        self.result_view.send_to_canvas.connect(self.send_result_to_canvas)
        self.grid_panel.run_requested.connect(self.run_grid)
        self.grid_panel.open_requested.connect(self.open_grid_cell)
        self.restore_settings()
        from sd21_desktop.ui.canvas_flow import CanvasFlow

        self.canvas_flow = CanvasFlow(self)  # mode, size and model follow the canvas
        controls_layout.addWidget(self.canvas_flow.reason_label)

    # menus -----------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_parameters = QAction("&Load settings from an image…", self)
        open_parameters.setObjectName("loadSettingsFromImageAction")
        open_parameters.setShortcut(QKeySequence("Ctrl+Shift+O"))
        open_parameters.triggered.connect(self.choose_settings_image)
        file_menu.addAction(open_parameters)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setObjectName("settingsAction")
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(self.settings_action)
        self.models_action = QAction("&Models…", self)
        self.models_action.setObjectName("modelsAction")
        self.models_action.setShortcut(QKeySequence("Ctrl+M"))
        self.models_action.triggered.connect(lambda: self.models_window_requested.emit(""))
        file_menu.addAction(self.models_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        shortcuts = QAction("&Keyboard shortcuts", self)
        shortcuts.setObjectName("shortcutsAction")
        shortcuts.setShortcut(QKeySequence.StandardKey.HelpContents)
        shortcuts.triggered.connect(self.show_shortcuts)
        help_menu.addAction(shortcuts)
        cancel = QAction("Cancel the running job", self)
        cancel.setShortcut(QKeySequence("Esc"))
        cancel.triggered.connect(self.cancel_running)
        self.addAction(cancel)
        about = QAction("&About", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    # generation ------------------------------------------------------------------------------
    def canvas_inputs(self, request: GenerationRequest) -> tuple[GenerationRequest, dict[str, Any]]:
        """The request with the canvas image (and mask) ids, and those images for the worker.

        Only hashing happens here (CPU, milliseconds); the worker writes the files.
        """
        mode = self.parameters.mode()
        controls: dict[str, Any] = {}
        if self._canvas_tab is not None and self._canvas_tab.controls.rows:
            units, controls = self._canvas_tab.controls.units_for_request()
            request = request.replace(controls=units)
        if mode == "txt2img":
            return request, controls
        canvas = self.canvas_tab.canvas
        image = canvas.image()
        if image is None:
            raise InvalidRequestError(
                "init_image",
                f"{mode} changes an image, and the canvas is empty.",
                "Open an image on the Canvas tab (or send one from the gallery or the result).",
            )
        from PIL import Image

        from sd21_desktop.engine.inputs import content_hash
        from sd21_desktop.qt.images import qimage_to_rgb_array

        init = self.canvas_tab.region.init_image()  # with the visible paint (sketch)
        new_inputs = {content_hash(init): init, **controls}
        changes: dict[str, Any] = {"mode": mode, "init_image": content_hash(init)}
        if mode in MODES_WITH_STRENGTH:
            changes["strength"] = round(self.parameters.strength_spin.value(), 2)
        if mode == "depth" and self.canvas_tab.depth_panel.depth_map is not None:
            depth = Image.fromarray(
                qimage_to_rgb_array(self.canvas_tab.depth_panel.depth_map)[:, :, 0], mode="L"
            )
            new_inputs[content_hash(depth)] = depth
            changes["depth_map"] = content_hash(depth)
        if mode == "upscale":
            params = self.parameters
            changes.update(
                noise_level=params.noise_level_spin.value(),
                tile_size=params.tile_size_spin.value(),
                tile_overlap=params.tile_overlap_spin.value(),
            )
        if mode == "inpaint":
            region = self.canvas_tab.region
            region.set_native_size(self.parameters.native_size)
            fields, mask = region.inpaint_fields(
                init, self.parameters.keep_unmasked_check.isChecked()
            )
            new_inputs[content_hash(mask)] = mask
            changes.update(fields)
        return request.replace(**changes), new_inputs

    @Slot()
    def generate(self) -> None:
        """Queue ``batch count`` jobs built from the current values (or explain what's wrong)."""
        if self.canvas_flow.problem:  # Ctrl+Enter reaches here with the button disabled
            self.message_bar.show_error(self.canvas_flow.problem)
            return
        missing = self.model_gate(self.parameters.model())
        if missing:
            self.message_bar.show_error(missing)
            self.models_window_requested.emit(self.parameters.model())
            return
        runs = self.parameters.batch_count_spin.value()
        try:
            requests = []
            for run in range(runs):
                request = self.parameters.build_request(
                    self.prompt_editor.prompt(), self.prompt_editor.negative_prompt()
                )
                if run and self.parameters.seed_mode() != "random":
                    seed = (request.seed + run * request.batch_size) % (MAX_SEED + 1)
                    request = request.replace(seed=seed)
                requests.append(request)
            canvas_jobs = [self.canvas_inputs(request) for request in requests]
        except InvalidRequestError as error:
            self.message_bar.show_error(str(error))
            return
        if not requests[0].prompt.strip():
            self.message_bar.show_notice("The prompt is empty: the image will be unguided noise.")
        self.prompt_editor.remember()
        for request, new_inputs in canvas_jobs:
            self.queue.enqueue(request, new_inputs=new_inputs)
        self.parameters.note_used_seed(requests[-1].seed)

    @Slot()
    def cancel_running(self) -> None:
        running = self.queue.running
        if running is not None:
            self.queue.cancel(running.id)
            self.show_status("Cancelling…")

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        if not busy:
            self.progress_bar.setFormat("idle")
            self.speed_label.setText("")

    # worker signals --------------------------------------------------------------------------
    @Slot(str)
    def on_job_started(self, job_id: str) -> None:
        job = self.queue.job(job_id)
        self.progress_bar.setRange(0, max(job.request.steps if job else 1, 1))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("starting…")
        self._stage = ""
        self.message_bar.hide()

    @Slot(str, str)
    def on_stage_changed(self, job_id: str, stage: str) -> None:
        """The running stage of a job's plan ("denoise 1/2", "upscale tile 3/25")."""
        self._stage = stage

    @Slot(str, int, int, float, float)
    def on_progress(self, job_id: str, step: int, total: int, rate: float, eta: float) -> None:
        self.status_clock.stop()  # the wait is over; the bar and the ETA take it from here
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(step)
        steps = f"step {step}/{total}"
        self.progress_bar.setFormat(f"{self._stage} · {steps}" if self._stage else steps)
        speed = f"{rate:.2f} it/s" if rate >= 1 else f"{1 / rate:.1f} s/it" if rate > 0 else ""
        self.speed_label.setText(f"{speed} · ETA {minutes_seconds(eta)}")

    @Slot(str, QImage)
    def on_preview(self, job_id: str, image: QImage) -> None:
        job = self.queue.job(job_id)
        if job is not None:
            big = image.scaled(
                job.request.width,
                job.request.height,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self.result_view.show_preview(big, f"Preview (step {job.step}/{job.total})…")

    @Slot(str, list)
    def on_finished(self, job_id: str, images: list[SavedImage]) -> None:
        if not images:
            return
        job = self.queue.job(job_id)
        first = images[0]
        prompt = job.request.prompt if job else ""
        self.result_view.show_result(
            first.image, first.path, f"seed {first.seed} · {first.path}", _source_of(first)
        )
        for saved in images:
            self.add_recent(saved, prompt)
        self.gallery_panel.model.prepend([s.entry for s in images if s.entry is not None])
        self.progress_bar.setFormat("done")
        self.grid_panel.cell_done(job_id, first.image, first.path)

    @Slot()
    def run_grid(self) -> None:
        """Queue one job per grid cell (the editor's settings, one image each)."""
        from sd21_desktop.engine.grid import grid_cells

        try:
            axes = self.grid_panel.axes()
            base = self.parameters.build_request(
                self.prompt_editor.prompt(), self.prompt_editor.negative_prompt()
            ).replace(batch_size=1)
            cells = grid_cells(base, axes)
        except UserFacingError as error:
            self.message_bar.show_error(str(error))
            return
        jobs = {self.queue.enqueue(cell.request).id: cell.position for cell in cells}
        self.grid_panel.start(axes, jobs)

    @Slot(QImage, str)
    def open_grid_cell(self, image: QImage, path: str) -> None:
        self.result_view.show_result(image, path, path)
        self.tabs.setCurrentWidget(self.result_view)

    @Slot(str, str)
    def on_failed(self, job_id: str, message: str) -> None:
        self.message_bar.show_error(message)
        self.show_status("Generation failed.")

    @Slot(str, str, list, list)
    def on_not_saved(self, job_id: str, reason: str, saved: list[Any], unsaved: list[Any]) -> None:
        """The disk refused: show the image kept in memory (the queue panel offers to save it)."""
        self.result_view.show_preview(unsaved[0].image, f"Not saved: {reason}")
        self.show_status(f"Not saved: {reason}. The queue is paused.")
        self.progress_bar.setFormat("not saved")

    @Slot(str, list)
    def on_saved_elsewhere(self, job_id: str, paths: list[str]) -> None:
        self.show_status(f"Saved outside the gallery: {', '.join(paths)}")

    @Slot(str)
    def on_cancelled(self, job_id: str) -> None:
        self.show_status("Cancelled; nothing was saved.")

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_clock.follow(text)

    @Slot(str, int)
    def on_model_loaded(self, model: str, native_size: int) -> None:
        if model == self.parameters.model():
            self.parameters.set_native_size(native_size)
            if self._canvas_tab is not None:  # "auto" inpaint area and its crop outline
                self._canvas_tab.region.set_native_size(native_size)

    # re-runs and loading parameters ------------------------------------------------------------
    @Slot(object, int)
    def rerun(self, request: GenerationRequest, keep_index: int) -> None:
        """Queue a stored request as it was (``keep_index``: the batch image to keep)."""
        self.queue.enqueue(request, keep_index)
        self.tabs.setCurrentWidget(self.result_view)
        self.show_status(f"Re-running seed {request.seed}…")

    @Slot(object)
    def load_request(self, request: GenerationRequest) -> None:
        self.prompt_editor.set_prompts(request.prompt, request.negative_prompt)
        self.parameters.apply_request(request)
        if request.controls and self.inputs_folder is not None:  # none: the units stay
            self.canvas_tab.controls.load_units(request.controls, self.inputs_folder)
        self.show_status("Parameters loaded from the gallery.")

    # the canvas ------------------------------------------------------------------------------
    @property
    def canvas_tab(self) -> CanvasTab:
        if self._canvas_tab is None:
            from sd21_desktop.ui.canvas_tab import CanvasTab

            tab = CanvasTab()
            tab.message.connect(self.message_bar.show_notice)
            tab.error.connect(self.message_bar.show_error)
            tab.region.set_native_size(self.parameters.native_size)
            tab.depth_panel.estimate_requested.connect(self._request_depth_estimate)
            tab.controls.estimate_requested.connect(self._request_control_estimate)
            tab.controls.annotators_folder = self.annotators_folder
            params = self.parameters
            tab.generation_size = lambda: (params.width_spin.value(), params.height_spin.value())
            tab.set_mode(self.parameters.mode())
            index = self.tabs.indexOf(self._canvas_placeholder)
            self._canvas_tab = tab
            self.canvas_flow.attach(tab)
            current = self.tabs.currentIndex()
            self.tabs.blockSignals(True)
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, tab, "Canvas")
            self.tabs.setCurrentIndex(current)
            self.tabs.blockSignals(False)
            self._canvas_placeholder.deleteLater()
            apply_tooltips(self)
        return self._canvas_tab

    @Slot()
    def _request_depth_estimate(self) -> None:
        image = self.canvas_tab.canvas.image()
        if image is None:
            self.message_bar.show_error("Open an image on the canvas first.")
            return
        from PIL import Image

        from sd21_desktop.qt.images import qimage_to_rgb_array

        self.canvas_tab.depth_panel.source_label.setText("Estimating…")
        self.depth_estimate_requested.emit(
            Image.fromarray(qimage_to_rgb_array(image)), self.parameters.model()
        )

    def annotators_folder(self) -> Path | None:
        chosen = self.settings.annotators_dir
        return Path(chosen).expanduser() if chosen else self.annotators_default

    @Slot(str, object)
    def _request_control_estimate(self, name: str, picture: object) -> None:
        """A control unit's depth (the SD2 depth model) or hed/lineart/openpose (controlnet-aux)
        preprocessor, run by the worker."""
        from sd21_desktop.engine.models import DEPTH_MODEL_ID

        self.show_status(f"Making the control layer with {name}…")
        if name != "depth":
            self.annotate_requested.emit(picture, name, self.annotators_folder())
            return
        self._control_depth = True
        self.depth_estimate_requested.emit(picture, DEPTH_MODEL_ID)

    @Slot(QImage, str)
    def on_annotated(self, image: QImage, error: str) -> None:
        if error or image.isNull():
            self.message_bar.show_error(error or "The control image could not be made.")
        else:
            self.canvas_tab.controls.set_estimate(image)

    @Slot(QImage, str)
    def on_depth_estimated(self, image: QImage, error: str) -> None:
        if self._control_depth:
            self._control_depth = False
            if error or image.isNull():
                self.message_bar.show_error(error or "The depth map could not be estimated.")
            else:
                self.canvas_tab.controls.set_estimate(image)
            return
        if error or image.isNull():
            self.message_bar.show_error(error or "The depth map could not be estimated.")
            self.canvas_tab.depth_panel.source_label.setText("")
            return
        self.canvas_tab.depth_panel.set_depth_map(
            image, f"estimated by {self.parameters.model()} (used as shown)"
        )

    @Slot(str)
    def _on_mode_changed(self, mode: str) -> None:
        if self._canvas_tab is not None:
            self._canvas_tab.set_mode(mode)

    @Slot(int)
    def _build_canvas_when_shown(self, index: int) -> None:
        if self._canvas_tab is None and self.tabs.widget(index) is self._canvas_placeholder:
            self.tabs.setCurrentWidget(self.canvas_tab)

    @Slot(str)
    def open_on_canvas(self, path: str) -> None:
        self.canvas_tab.open_file(path)
        self._show_canvas()

    @Slot(str, str)
    def upscale_on_canvas(self, path: str, prompt: str) -> None:
        """From the gallery: the image on the canvas, in upscale mode, its prompt kept."""
        self.canvas_flow.choose_mode("upscale", after_next_picture=True)  # once it has opened
        self.open_on_canvas(path)
        if prompt:
            self.prompt_editor.set_prompts(prompt, self.prompt_editor.negative_prompt())
        self.message_bar.show_notice("Ready to upscale ×4: check the noise level, then Generate.")

    @Slot()
    def send_result_to_canvas(self) -> None:
        if self.result_view.view.has_image():
            self.canvas_tab.use_result(self.result_view.view.current_image())
            self._show_canvas()

    def _show_canvas(self) -> None:
        self.tabs.setCurrentWidget(self.canvas_tab)  # the picture sets the mode, not the tab

    # this session's images -----------------------------------------------------------------
    def add_recent(self, saved: SavedImage, prompt: str) -> None:
        self.recent_view.add_image(saved, prompt)

    def _connect_filmstrip(self) -> None:
        strip = self.recent_view
        strip.show_requested.connect(self._show_saved)
        strip.rerun_requested.connect(self.rerun)
        strip.parameters_requested.connect(self.load_request)
        strip.send_to_canvas_requested.connect(self.open_on_canvas)
        strip.upscale_requested.connect(self.upscale_on_canvas)
        strip.delete_requested.connect(self.gallery_panel.delete_requested)
        strip.message.connect(self.show_status)

    @Slot(object)
    def _show_saved(self, saved: SavedImage) -> None:
        caption = f"seed {saved.seed} · {saved.path}"
        self.result_view.show_result(saved.image, saved.path, caption, _source_of(saved))
        self.tabs.setCurrentWidget(self.result_view)

    # help --------------------------------------------------------------------------------------
    @Slot()
    def show_shortcuts(self) -> None:
        from sd21_desktop.ui.help import ShortcutSheet

        ShortcutSheet(self).exec()

    @Slot(bool)
    def _on_validity_changed(self, valid: bool) -> None:
        # the canvas flow's slot runs after this one: it also disables for a canvas problem
        self.generate_button.setEnabled(valid)
        if not valid:
            self.show_status(self._why_generate_is_off())

    def _why_generate_is_off(self) -> str:
        flow = getattr(self, "canvas_flow", None)  # built last in __init__
        if flow is not None and flow.problem:
            return f"Generate is off: {flow.problem}"
        problem = self.parameters.validation_label.text().replace("\n", " ")
        return f"Generate is off: {problem or 'a parameter is not valid.'}"

    # settings --------------------------------------------------------------------------------
    def restore_settings(self) -> None:
        settings = self.settings
        self.prompt_editor.set_prompts(settings.prompt, settings.negative_prompt)
        self.parameters.load_settings(settings)
        if settings.window_geometry:
            self.restoreGeometry(QByteArray(base64.b64decode(settings.window_geometry)))
        else:
            fit_to_screen(self)
        if settings.window_state:
            self.restoreState(QByteArray(base64.b64decode(settings.window_state)))
        if len(settings.splitter_sizes) == 3:
            self.splitter.setSizes(settings.splitter_sizes)
        restore_layout(self, self.parameters.sections, settings)
        self.side_panel.set_collapsed(settings.queue_collapsed)

    def store_settings(self) -> None:
        settings = self.settings
        settings.prompt = self.prompt_editor.prompt()
        settings.negative_prompt = self.prompt_editor.negative_prompt()
        self.parameters.store_settings(settings)
        settings.window_geometry = base64.b64encode(bytes(self.saveGeometry().data())).decode()
        settings.window_state = base64.b64encode(bytes(self.saveState().data())).decode()
        settings.splitter_sizes = list(self.splitter.sizes())
        store_layout(self, self.parameters.sections, self.side_panel.is_collapsed(), settings)

    @Slot()
    def open_settings(self) -> None:
        from sd21_desktop.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            dialog.apply_to(self.settings)
            self.settings_changed()

    def settings_changed(self) -> None:
        """Overridden by the app to pass the new runtime options to the worker."""

    @Slot()
    def show_about(self) -> None:
        from sd21_desktop.ui.about import about_html

        QMessageBox.about(self, f"About {APP_NAME}", about_html(self.engine_info, self.build))

    @Slot(dict)
    def on_engine_info(self, info: dict[str, str]) -> None:
        self.engine_info = info

    @Slot(object)
    def on_build_checked(self, report: BuildReport) -> None:
        """The worker's start-up probe of the build and the GPU: a CPU build on a machine
        with an NVIDIA GPU says, in one line, that the CUDA build exists and why it is faster."""
        self.build = report
        hint = report.cuda_hint()
        if hint:
            self.message_bar.show_notice(hint)

    # reading settings from images (drop onto the editor, or File → Load settings) ------------
    @Slot()
    def choose_settings_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load settings from an image",
            "",
            "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)",
        )
        if path:
            self.load_settings_from_image(path)

    def load_settings_from_image(self, path: str) -> None:
        QThreadPool.globalInstance().start(
            ReadMetadata(path, self.parameters.model(), self._metadata_read)
        )

    @Slot(str, object, str)
    def _on_metadata_read(self, path: str, request: object, message: str) -> None:
        if isinstance(request, GenerationRequest):
            self.load_request(request)
            self.message_bar.show_notice(message)
        else:
            self.message_bar.show_error(message)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """An image dropped on the window (outside the gallery and canvas) loads its settings."""
        paths = dropped_files(event)
        if paths:
            self.load_settings_from_image(paths[0])
            event.acceptProposedAction()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.closing = True
        self.store_settings()
        super().closeEvent(event)


def _source_of(saved: SavedImage) -> tuple[GenerationRequest, int] | None:
    """A saved result's request and seed (for "Variations…" on the Result tab), if recorded."""
    request = getattr(saved.entry, "request", None)
    return None if request is None else (request, saved.seed)
