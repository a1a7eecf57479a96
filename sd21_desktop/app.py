"""The composition root: paths, settings, worker thread, job queue and the main window.

``create_app(argv)`` returns the fully wired ``(QApplication, MainWindow)`` without entering the
event loop; ``main()`` uses the same function, so tests drive exactly what users see. torch and
diffusers are not imported here: the worker imports them in its own thread after the window shows.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from sd21_desktop import APP_ID, APP_NAME, __version__
from sd21_desktop.cli_common import build_parser
from sd21_desktop.display import check_can_open_window
from sd21_desktop.errors import UserFacingError
from sd21_desktop.paths import AppPaths, resolve_paths, resources_dir
from sd21_desktop.prompt_history import PromptHistory
from sd21_desktop.qt.gallery_model import GalleryModel
from sd21_desktop.qt.gallery_service import GalleryService
from sd21_desktop.qt.jobs import JobQueue
from sd21_desktop.qt.thumbnails import ThumbnailCache
from sd21_desktop.qt.worker import EngineWorker
from sd21_desktop.settings import AppSettings, load_settings, save_settings
from sd21_desktop.ui.main_window import MainWindow


def save_to_gallery_folder(paths: AppPaths, result: Any) -> list[tuple[str, Any | None]]:
    """Write each image as a PNG with its metadata, without the index: the fallback when the
    gallery could not be opened, so no image is ever lost (runs in the worker thread)."""
    from sd21_desktop.gallery.files import unique_path, write_atomic
    from sd21_desktop.gallery.metadata import ImageRecord, encode_png

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    runtime = result.runtime.to_dict()
    saved: list[tuple[str, Any | None]] = []
    for image, seed, index in zip(result.images, result.seeds, result.batch_indices, strict=True):
        path = unique_path(paths.gallery_dir, f"{stamp}-{seed}")
        write_atomic(path, encode_png(image, ImageRecord(result.request, seed, index, runtime)))
        saved.append((str(path), None))
    return saved


class AppController(QObject):
    """Owns the worker and gallery threads and wires the window to them; shuts down in order."""

    options_changed = Signal(object)
    preload_requested = Signal(str)
    open_gallery_requested = Signal()

    def __init__(
        self, app: QApplication, paths: AppPaths, settings: AppSettings, history: PromptHistory
    ) -> None:
        super().__init__()
        self.app = app
        self.paths = paths
        self.settings = settings
        self.history = history
        self.queue = JobQueue()
        self.gallery = GalleryService(paths)
        self.gallery_thread = QThread()
        self.gallery_thread.setObjectName("galleryThread")
        self.gallery.moveToThread(self.gallery_thread)
        self.thumbnails = ThumbnailCache(paths.thumbnail_dir)
        self.gallery_model = GalleryModel(self.thumbnails)
        self.worker = EngineWorker(
            settings.runtime_options(str(paths.cache_dir)),
            self.save_result,
            inputs_folder=paths.inputs_dir,
        )
        self.engine_thread = QThread()
        self.engine_thread.setObjectName("engineThread")
        self.worker.moveToThread(self.engine_thread)
        self.window = MainWindow(settings, history, self.queue, self.gallery_model)
        self.window.controller = self  # type: ignore[attr-defined]
        self.window.settings_changed = self.apply_settings  # type: ignore[method-assign]
        self._wire()
        # Objects living in a worker thread are deleted in that thread as it ends, never later
        # by Python's garbage collector on the GUI thread.
        self.engine_thread.finished.connect(self.worker.deleteLater)
        self.gallery_thread.finished.connect(self.gallery.deleteLater)
        self.shut_down = False
        self.gallery_thread.start()
        self.engine_thread.start()
        self.open_gallery_requested.emit()

    def save_result(self, result: Any) -> list[tuple[str, Any | None]]:
        """Save a finished result into the gallery (runs in the engine thread)."""
        store = self.gallery.store_if_open()
        if store is None:
            return save_to_gallery_folder(self.paths, result)
        from sd21_desktop.gallery.metadata import ImageRecord

        runtime = result.runtime.to_dict()
        saved: list[tuple[str, Any | None]] = []
        for image, seed, index in zip(
            result.images, result.seeds, result.batch_indices, strict=True
        ):
            entry = store.add_image(image, ImageRecord(result.request, seed, index, runtime))
            saved.append((str(entry.path), entry))
        return saved

    def _wire(self) -> None:
        queue, worker, window = self.queue, self.worker, self.window
        queue.run_requested.connect(worker.run_job)
        self.options_changed.connect(worker.set_options)
        self.preload_requested.connect(worker.preload_model)
        worker.started.connect(window.on_job_started)
        worker.progress.connect(queue.on_progress)
        worker.progress.connect(window.on_progress)
        worker.preview.connect(window.on_preview)
        worker.finished.connect(window.on_finished)
        worker.finished.connect(queue.on_finished)
        worker.failed.connect(window.on_failed)
        worker.failed.connect(queue.on_failed)
        worker.cancelled.connect(window.on_cancelled)
        worker.cancelled.connect(queue.on_cancelled)
        worker.status_changed.connect(window.show_status)
        worker.model_loaded.connect(window.on_model_loaded)
        worker.engine_info_changed.connect(window.on_engine_info)
        worker.notice.connect(window.message_bar.show_notice)
        window.depth_estimate_requested.connect(worker.estimate_depth)
        worker.depth_estimated.connect(window.on_depth_estimated)
        window.parameters.model_changed.connect(self._on_model_changed)
        # gallery
        gallery, model, panel = self.gallery, self.gallery_model, window.gallery_panel
        self.open_gallery_requested.connect(gallery.open_store)
        gallery.store_opened.connect(self._on_store_opened)
        gallery.failed.connect(window.message_bar.show_error)
        model.page_requested.connect(gallery.load_page)
        gallery.page_loaded.connect(model.on_page_loaded)
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

    def apply_settings(self) -> None:
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
        self.queue.cancel_all()
        self.window.store_settings()
        self.engine_thread.quit()
        self.engine_thread.wait()
        self.thumbnails.shutdown()
        self.gallery_thread.quit()
        self.gallery_thread.wait()
        self.gallery.close_store()
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
    for name in ("model", "device", "dtype"):
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
    controller = AppController(app, paths, settings, PromptHistory(paths.prompt_history_path))
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
    QTimer.singleShot(0, window.controller.preload)  # type: ignore[attr-defined]
    return int(app.exec())
