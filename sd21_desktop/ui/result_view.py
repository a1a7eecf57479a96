"""The result view: the live preview while a job runs, then the finished image.

Fit or 100 % zoom, wheel zoom, drag to pan, save as, copy to the clipboard, and drag the image
out to other programs (as the PNG file, so its metadata travels with it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import (
    QMimeData,
    QPoint,
    QRunnable,
    Qt,
    QThreadPool,
    QUrl,
    Signal,
    SignalInstance,
    Slot,
)
from PySide6.QtGui import (
    QDrag,
    QGuiApplication,
    QImage,
    QMouseEvent,
    QPainter,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import InvalidRequestError
from sd21_desktop.ui.icons import set_icon
from sd21_desktop.ui.theme import CANVAS_BACKGROUND, set_text_role
from sd21_desktop.ui.widgets import tool_button


class _CopyFile(QRunnable):
    """File copies run on the thread pool: the GUI thread does no blocking I/O."""

    def __init__(self, source: Path, target: Path, done: SignalInstance) -> None:
        super().__init__()
        self.source, self.target, self.done = source, target, done

    def run(self) -> None:
        try:
            shutil.copy2(self.source, self.target)
            self.done.emit(f"Saved {self.target}")
        except OSError as error:
            self.done.emit(f"Could not save to {self.target}: {error.strerror or error}")


class ImageCanvasView(QGraphicsView):
    """A zoomable, pannable view of one image."""

    drag_out_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("previewView")
        self.setAccessibleName("Result and live preview")
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(CANVAS_BACKGROUND)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.fit_mode = True
        self._press: QPoint | None = None

    def set_image(self, image: QImage) -> None:
        self._item.setPixmap(QPixmap.fromImage(image))
        self._scene.setSceneRect(self._item.boundingRect())
        if self.fit_mode:
            self.fit()

    def has_image(self) -> bool:
        return not self._item.pixmap().isNull()

    def current_image(self) -> QImage:
        return self._item.pixmap().toImage()

    def fit(self) -> None:
        self.fit_mode = True
        if self.has_image():
            self.fitInView(self._item, Qt.AspectRatioMode.KeepAspectRatio)

    def actual_size(self) -> None:
        self.fit_mode = False
        self.resetTransform()

    def zoom_factor(self) -> float:
        return self.transform().m11()

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.fit_mode:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if not self.has_image():
            return
        self.fit_mode = False
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        # Ctrl+drag (or the right button) drags the image out; a plain drag pans.
        if event.button() == Qt.MouseButton.RightButton or (
            event.button() == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self._press = event.position().toPoint()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is not None:
            if (event.position().toPoint() - self._press).manhattanLength() > 8:
                self._press = None
                self.drag_out_requested.emit()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._press = None
        super().mouseReleaseEvent(event)


class ResultView(QWidget):
    message = Signal(str)
    send_to_canvas = Signal()
    rerun_requested = Signal(object, int)  # request, batch index to keep (-1: all)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ImageCanvasView()
        self.current_path: Path | None = None
        self.current_source: tuple[GenerationRequest, int] | None = None
        """The shown result's request and seed, when known (for "Variations…")."""
        self.caption = QLabel("No image yet: write a prompt and press Generate (Ctrl+Enter).")
        self.caption.setObjectName("resultCaption")
        # One line that gives way to the buttons (the full text is in its tooltip).
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        set_text_role(self.caption, "muted")
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for name, icon, tip, slot in (
            ("fitButton", "fit-to-screen-outline", "Fit the image in the view", self.view.fit),
            ("actualSizeButton", "numeric-1-box-outline", "Show at 100 % (one image pixel per "
             "screen pixel)", self.view.actual_size),
            ("saveAsButton", "content-save-outline", "Save a copy of the PNG as…", self.save_as),
            ("copyButton", "content-copy", "Copy the image to the clipboard",
             self.copy_to_clipboard),
            ("toCanvasButton", "brush-outline", "Open the image on the canvas (img2img, "
             "inpaint)", self.send_to_canvas.emit),
            ("variationsButton", "shuffle-variant", "Variations…: N images around this one (its "
             "seed, random variation seeds, a strength you choose)", self.make_variations),
        ):
            button = tool_button("")
            button.setObjectName(name)
            button.setAutoRaise(True)
            set_icon(button, icon, tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        buttons.insertWidget(0, self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.view.drag_out_requested.connect(self.start_drag)
        self._update_buttons()

    def _update_buttons(self) -> None:
        for name in ("saveAsButton", "copyButton", "toCanvasButton"):
            self.buttons[name].setEnabled(self.current_path is not None)
        self.buttons["variationsButton"].setEnabled(self.current_source is not None)

    def _set_caption(self, caption: str) -> None:
        self.caption.setText(caption)
        self.caption.setToolTip(caption)

    def show_preview(self, image: QImage, caption: str) -> None:
        self.view.set_image(image)
        self._set_caption(caption)

    def show_result(
        self,
        image: QImage,
        path: str,
        caption: str,
        source: tuple[GenerationRequest, int] | None = None,
    ) -> None:
        """Show a saved result; ``source`` = (its request, its seed) when known."""
        self.current_path = Path(path)
        self.current_source = source
        self.view.set_image(image)
        self._set_caption(caption)
        self._update_buttons()

    @Slot()
    def make_variations(self) -> None:
        """N images around the shown result (see :func:`ask_for_variations`), queued."""
        from sd21_desktop.ui.variations_dialog import ask_for_variations

        if self.current_source is None:
            self.message.emit("This image carries no settings to vary.")
            return
        try:
            requests = ask_for_variations(self, *self.current_source)
        except InvalidRequestError as error:
            self.message.emit(str(error))
            return
        for request in requests:
            self.rerun_requested.emit(request, -1)

    def save_as(self) -> None:
        if self.current_path is None:
            return
        target, _ = QFileDialog.getSaveFileName(
            self, "Save image as", self.current_path.name, "PNG image (*.png)"
        )
        if target:
            QThreadPool.globalInstance().start(
                _CopyFile(self.current_path, Path(target), self.message)
            )

    @Slot()
    def copy_to_clipboard(self) -> None:
        if self.view.has_image():
            QGuiApplication.clipboard().setImage(self.view.current_image())
            self.message.emit("Image copied to the clipboard.")

    @Slot()
    def start_drag(self) -> None:
        if self.current_path is None:
            return
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(self.current_path))])
        mime.setImageData(self.view.current_image())
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(
            self.view.current_image().scaled(128, 128, Qt.AspectRatioMode.KeepAspectRatio)
        )
        drag.exec(Qt.DropAction.CopyAction)
