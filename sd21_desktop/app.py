"""The composition root: paths, settings, worker thread, job queue and the main window.

``create_app(argv)`` returns the fully wired ``(QApplication, MainWindow)`` without entering the
event loop; ``main()`` uses the same function, so tests drive exactly what users see. torch and
diffusers are not imported here: the worker imports them in its own thread after the window shows.
"""

from __future__ import annotations

import errno
import sys
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from sd21_desktop import APP_ID, APP_NAME, __version__
from sd21_desktop.cli_common import build_parser
from sd21_desktop.display import check_can_open_window
from sd21_desktop.engine.networks import NetworkFolders
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.queue_store import JobStore
from sd21_desktop.paths import AppPaths, resolve_paths, resources_dir
from sd21_desktop.prompt_history import PromptHistory
from sd21_desktop.qt.gallery_model import GalleryModel
from sd21_desktop.qt.gallery_service import GalleryService
from sd21_desktop.qt.jobs import JobQueue
from sd21_desktop.qt.model_manager import ModelManager
from sd21_desktop.qt.network_library import NetworkLibrary
from sd21_desktop.qt.thumbnails import ThumbnailCache
from sd21_desktop.qt.warmup import WarmUp
from sd21_desktop.qt.worker import EngineWorker
from sd21_desktop.settings import AppSettings, EngineChoice, load_settings, save_settings
from sd21_desktop.ui.main_window import MainWindow
from sd21_desktop.ui.models_ui import ModelsUi
from sd21_desktop.ui.theme import ThemeManager


def save_to_gallery_folder(paths: AppPaths, image: Any, record: Any) -> tuple[str, None]:
    """Write one image as a PNG with its metadata, without the index: the fallback when the
    gallery could not be opened, so no image is ever lost (runs in the worker thread). It goes
    to its day folder under a name free in the gallery and the trash, as the store would."""
    from sd21_desktop.gallery.files import write_atomic
    from sd21_desktop.gallery.layout import TRASH_FOLDER, GalleryLayout, listed_day_folder
    from sd21_desktop.gallery.metadata import encode_png

    if not paths.gallery_dir.is_dir():
        raise FileNotFoundError(errno.ENOENT, "The gallery folder is gone", str(paths.gallery_dir))
    now = time.time()
    layout = GalleryLayout(paths.gallery_dir, paths.data_dir / TRASH_FOLDER)
    stem = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{record.seed}"
    path = layout.live_path(
        layout.unique_name(listed_day_folder(paths.gallery_dir, now), stem, ".png")
    )
    write_atomic(path, encode_png(image, record))
    return str(path), None


def open_job_store(paths: AppPaths) -> tuple[JobStore, list[str]]:
    """The queue's table, or (when the data folder cannot hold it) one in memory, with notices."""
    try:
        store = JobStore(paths.queue_path)
    except UserFacingError as error:
        return JobStore(None), [f"{error} Queued jobs will not survive a restart."]
    return store, list(store.notices)


class AppController(QObject):
    """Owns the worker and gallery threads and wires the window to them; shuts down in order."""

    options_changed = Signal(object)
    networks_changed = Signal(object)  # NetworkFolders
    engine_changed = Signal(object)  # EngineChoice: this machine or a Ray cluster
    preload_requested = Signal(str)
    open_gallery_requested = Signal()
    build_check_requested = Signal()

    def __init__(
        self, app: QApplication, paths: AppPaths, settings: AppSettings, history: PromptHistory
    ) -> None:
        super().__init__()
        self.app = app
        self.paths = paths
        self.settings = settings
        self.history = history
        self.job_store, self._queue_notices = open_job_store(paths)
        self.queue = JobQueue(self.job_store, paths.inputs_dir)
        self.gallery = GalleryService(paths)
        self.gallery_thread = QThread()
        self.gallery_thread.setObjectName("galleryThread")
        self.gallery.moveToThread(self.gallery_thread)
        self.thumbnails = ThumbnailCache(paths.thumbnail_dir)
        self.gallery_model = GalleryModel(self.thumbnails)
        self.worker = EngineWorker(
            settings.runtime_options(str(paths.cache_dir)),
            self.save_image,
            inputs_folder=paths.inputs_dir,
            find_saved=self.find_saved,
            on_saved=self.job_store.record_saved,
            networks=self.network_folders(),
            engine_choice=EngineChoice.of(settings),
        )
        self.library = NetworkLibrary(self.network_folders(), self)
        self.engine_thread = QThread()
        self.engine_thread.setObjectName("engineThread")
        self.worker.moveToThread(self.engine_thread)
        self.warm_up = WarmUp(parent=self)
        self.window = MainWindow(settings, history, self.queue, self.gallery_model)
        self.window.controller = self  # type: ignore[attr-defined]
        self.window.annotators_default = paths.annotators_dir
        self.window.inputs_folder = paths.inputs_dir
        self.window.settings_changed = self.apply_settings  # type: ignore[method-assign]
        self.models = ModelsUi(self.window, ModelManager(paths.data_dir / "local_models.json"))
        self._wire()
        # Objects living in a worker thread are deleted in that thread as it ends, never later
        # by Python's garbage collector on the GUI thread.
        self.engine_thread.finished.connect(self.worker.deleteLater)
        self.gallery_thread.finished.connect(self.gallery.deleteLater)
        self.shut_down = False
        self.theme: ThemeManager | None = None
        self.gallery_thread.start()
        self.engine_thread.start()
        self.build_check_requested.emit()
        self.open_gallery_requested.emit()
        self._restore_queue()

    def save_image(self, image: Any, record: Any) -> tuple[str, Any | None]:
        """Save one finished image into the gallery (runs in the engine thread)."""
        store = self.gallery.store_if_open()
        if store is None:
            return save_to_gallery_folder(self.paths, image, record)
        entry = store.add_image(image, record)
        return str(entry.path), entry

    def find_saved(self, job_id: str) -> dict[int, int]:
        """The images of a job already in the gallery (runs in the engine thread)."""
        store = self.gallery.store_if_open()
        return store.saved_by_job(job_id) if store is not None else {}

    def _restore_queue(self) -> None:
        """Put back what the last session left queued, and ask what to do with it."""
        recovery = self.queue.restore()
        for notice in self._queue_notices:
            self.window.message_bar.show_notice(notice)
        if recovery.total:
            self.window.queue_panel.show_recovery(recovery)

    def _wire(self) -> None:
        queue, worker, window = self.queue, self.worker, self.window
        queue.run_requested.connect(worker.run_job)
        self.options_changed.connect(worker.set_options)
        self.networks_changed.connect(worker.set_networks)
        self.engine_changed.connect(worker.set_engine)
        self.library.changed.connect(window.prompt_editor.set_networks)
        window.prompt_editor.rescan_requested.connect(self.library.rescan)
        self.library.rescan()
        self.preload_requested.connect(worker.preload_model)
        worker.started.connect(window.on_job_started)
        worker.progress.connect(queue.on_progress)
        worker.progress.connect(window.on_progress)
        worker.stage_changed.connect(window.on_stage_changed)
        worker.preview.connect(window.on_preview)
        worker.finished.connect(window.on_finished)
        worker.finished.connect(queue.on_finished)
        worker.failed.connect(window.on_failed)
        worker.failed.connect(queue.on_failed)
        worker.cancelled.connect(window.on_cancelled)
        worker.cancelled.connect(queue.on_cancelled)
        worker.not_saved.connect(queue.on_not_saved)
        worker.not_saved.connect(window.on_not_saved)
        worker.saved_elsewhere.connect(queue.on_saved_elsewhere)
        worker.saved_elsewhere.connect(window.on_saved_elsewhere)
        queue.problem.connect(window.message_bar.show_error)
        window.queue_panel.save_again_requested.connect(worker.save_again)
        window.queue_panel.save_elsewhere_requested.connect(worker.save_elsewhere)
        worker.status_changed.connect(window.show_status)
        worker.model_loaded.connect(window.on_model_loaded)
        worker.engine_info_changed.connect(window.on_engine_info)
        self.build_check_requested.connect(worker.check_build)
        worker.build_checked.connect(window.on_build_checked)
        worker.notice.connect(window.message_bar.show_notice)
        window.depth_estimate_requested.connect(worker.estimate_depth)
        worker.depth_estimated.connect(window.on_depth_estimated)
        window.annotate_requested.connect(worker.annotate)
        worker.annotated.connect(window.on_annotated)
        self.warm_up.stage_requested.connect(worker.warm_up)
        worker.warmed_up.connect(self.warm_up.on_stage_done)
        window.parameters.model_changed.connect(self._on_model_changed)
        # gallery
        gallery, model, panel = self.gallery, self.gallery_model, window.gallery_panel
        self.open_gallery_requested.connect(gallery.open_store)
        gallery.store_opened.connect(self._on_store_opened)
        gallery.failed.connect(window.message_bar.show_error)
        model.page_requested.connect(gallery.load_page)
        gallery.page_loaded.connect(model.on_page_loaded)
        gallery.count_loaded.connect(model.on_count_loaded)
        model.on_request = gallery.page_asked
        gallery.reconcile_changed.connect(model.on_reconciled)
        gallery.reconcile_status.connect(panel.show_status)
        gallery.reconcile_finished.connect(self._on_reconcile_finished)
        gallery.entries_changed.connect(model.on_entries_changed)
        panel.favourite_requested.connect(gallery.set_favourite)
        panel.rerun_model_requested.connect(gallery.set_rerun_model)
        panel.delete_requested.connect(gallery.delete)
        panel.restore_requested.connect(gallery.restore)
        panel.import_requested.connect(gallery.import_paths)
        panel.facets_requested.connect(gallery.load_facets)
        gallery.facets_loaded.connect(panel.on_facets_loaded)
        gallery.import_finished.connect(self._on_import_finished)
        window.destroyed.connect(self.shutdown)
        self.app.aboutToQuit.connect(self.shutdown)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: Any) -> bool:  # noqa: N802
        from PySide6.QtCore import QEvent

        if watched is self.window and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    @Slot(list)
    def _on_store_opened(self, notices: list[str]) -> None:
        if notices:
            self.window.message_bar.show_notice("\n".join(notices))
        self.gallery_model.refresh()
        self.window.gallery_panel.facets_requested.emit()

    @Slot(list)
    def _on_reconcile_finished(self, notices: list[str]) -> None:
        if notices:
            self.window.message_bar.show_notice("\n".join(notices))
        self.gallery_model.on_reconcile_finished()
        self.window.gallery_panel.facets_requested.emit()

    @Slot(object)
    def _on_import_finished(self, report: Any) -> None:
        problems = [f"{problem.path.name}: {problem.message}" for problem in report.errors]
        self.window.gallery_panel.import_done_message(
            len(report.imported), problems, len(report.skipped)
        )

    @Slot(str)
    def _on_model_changed(self, model: str) -> None:
        self.window.show_status(f"Model: {model}")

    def preload(self) -> None:
        self.preload_requested.emit(self.window.parameters.model())

    def network_folders(self) -> NetworkFolders:
        chosen = self.settings
        return self.paths.network_folders(chosen.embeddings_dir or None, chosen.lora_dir or None)

    def start_warm_up(self) -> None:
        """Import torch and diffusers in idle moments after start-up, then load the model."""
        self.warm_up.finished.connect(self.preload)
        self.warm_up.start()

    def apply_settings(self) -> None:
        folders = self.network_folders()
        self.networks_changed.emit(folders)
        self.library.set_folders(folders)
        self.engine_changed.emit(EngineChoice.of(self.settings))
        if self.theme is not None:
            self.theme.set_choice(self.settings.theme)
        try:
            self.options_changed.emit(self.settings.runtime_options(str(self.paths.cache_dir)))
        except UserFacingError as error:
            self.window.message_bar.show_error(str(error))

    @Slot()
    def shutdown(self) -> None:
        """Cancel what runs, stop the thread, save settings and history. Safe to call twice."""
        if self.shut_down:
            return
        self.shut_down = True
        self.queue.prepare_exit()
        self.models.shutdown()
        self.window.store_settings()
        if hasattr(self.worker.engine, "close"):  # a Ray engine stops its actors (and a Ray it
            # started) in the thread that started it, or Ray's agent processes outlive the app
            QMetaObject.invokeMethod(
                self.worker, "shutdown", Qt.ConnectionType.BlockingQueuedConnection
            )
        self.engine_thread.quit()
        self.engine_thread.wait()
        self.thumbnails.shutdown()
        self.gallery_thread.quit()
        self.gallery_thread.wait()
        self.gallery.close_store()
        self.job_store.close()
        for save, what in (
            (lambda: save_settings(self.paths.settings_path, self.settings), "settings"),
            (self.history.save, "prompt history"),
        ):
            try:
                save()
            except OSError as error:
                print(f"warning: could not save the {what}: {error}", file=sys.stderr)


def _parse(argv: Sequence[str]) -> Any:
    return build_parser().parse_args(list(argv))


def create_app(argv: Sequence[str]) -> tuple[QApplication, MainWindow]:
    args = _parse(argv)
    if QApplication.instance() is None:
        check_can_open_window()  # one line and status 2 where Qt would abort the process
    paths = resolve_paths(args.data_dir).ensure()
    settings, notice = load_settings(paths.settings_path)
    for name in (
        "model", "device", "dtype", "embeddings_dir", "lora_dir",
        "engine", "ray_address", "ray_workers",
    ):
        value = getattr(args, name, None)
        if value is not None and not (name != "model" and value == "auto"):
            setattr(settings, name, value)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APP_ID])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_ID)
    app.setDesktopFileName(APP_ID)  # Wayland matches the window to the menu entry and icon
    icon = resources_dir() / "icons" / "sd21-desktop.png"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    theme = ThemeManager.for_app(app, settings.theme)  # first, so widgets start themed
    controller = AppController(app, paths, settings, PromptHistory(paths.prompt_history_path))
    controller.theme = theme
    if notice:
        controller.window.message_bar.show_notice(notice)
    return app, controller.window


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(argv)
    app, window = create_app(argv)
    window.show()
    if args.smoke_test:
        app.processEvents()
        QTimer.singleShot(0, window.close)
        QTimer.singleShot(0, app.quit)
        return int(app.exec())
    QTimer.singleShot(0, window.controller.start_warm_up)  # type: ignore[attr-defined]
    return int(app.exec())
