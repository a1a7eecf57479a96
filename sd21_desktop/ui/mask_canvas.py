"""The mask canvas: show an image, paint an inpainting mask over it with a round brush.

:class:`MaskCanvas` is a plain ``QWidget`` that draws the image and a translucent overlay itself,
so a brush stroke repaints only the few widget pixels it touched. The pieces live in
:mod:`sd21_desktop.ui.canvas`:

* ``brush`` rasterises stroke segments into the mask (numpy, max/min compositing);
* ``mask_ops`` grows/shrinks and feathers the mask into the effective mask a pipeline gets;
* ``overlay`` keeps the coloured overlay image in step with the mask, rectangle by rectangle;
* ``undo`` holds the undo commands (one per stroke, storing only the changed rectangle);
* ``view`` is the zoom/pan transform; ``image_io`` reads files, clipboard and drop data.

Pointer input: left button paints (right button erases), middle button or space + left drag pans,
the wheel zooms toward the cursor, ``[`` / ``]`` change the brush size, ``X`` toggles the eraser.
A pen's pressure scales the brush diameter; its eraser end erases.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFocusEvent,
    QGuiApplication,
    QImage,
    QInputDevice,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPointingDevice,
    QResizeEvent,
    QTabletEvent,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from sd21_desktop.errors import UserFacingError

from .canvas import image_io, mask_ops
from .canvas.brush import BrushSample, paint_segment, segment_bounds, step_size
from .canvas.geometry import PixelRect
from .canvas.overlay import OverlayCache
from .canvas.undo import InvertMaskCommand, MaskPatchCommand
from .canvas.view import WHEEL_STEP, ViewTransform

MIN_BRUSH_SIZE = 1
MAX_BRUSH_SIZE = 1024
MAX_FEATHER = 256.0
MAX_GROW = 256
UNDO_LIMIT = 500
"""Undo steps kept; each holds only a compressed patch, so even 500 stay small."""

_BACKGROUND = QColor(48, 48, 52)


def _checker_brush() -> QBrush:
    tile = QImage(16, 16, QImage.Format.Format_RGB32)
    tile.fill(QColor(204, 204, 204))
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, QColor(153, 153, 153))
    painter.fillRect(8, 8, 8, 8, QColor(153, 153, 153))
    painter.end()
    return QBrush(tile)


class MaskCanvas(QWidget):
    """An image with a paintable, undoable inpainting mask on top.

    The mask is an HxW ``uint8`` array the size of the image (0 = keep, 255 = repaint; a soft
    brush and feathering give values in between). Edits go through :meth:`undo_stack`.
    """

    mask_changed = Signal()
    """After every finished edit: a stroke (on release), fill, clear, invert, set, undo, redo."""
    image_changed = Signal()
    brush_size_changed = Signal(int)
    brush_hardness_changed = Signal(float)
    erase_mode_changed = Signal(bool)
    mask_options_changed = Signal()
    """Feather or grow/shrink changed, so :meth:`effective_mask` changed."""
    zoom_changed = Signal(float)
    image_load_failed = Signal(str)
    """A drop or paste held no usable image; the text says what went wrong and what to do."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("maskCanvas")
        self.setAccessibleName("Mask canvas")
        self.setAccessibleDescription(
            "The image to inpaint. Paint over the parts to regenerate; "
            "[ and ] change the brush size, X toggles the eraser."
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TabletTracking, True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setAcceptDrops(True)
        self.setCursor(Qt.CursorShape.CrossCursor)

        self._image: QImage | None = None
        self._display: QImage | None = None
        self._mask = np.zeros((0, 0), dtype=np.uint8)
        self._overlay: OverlayCache | None = None
        self._checker = _checker_brush()

        self._undo_stack = QUndoStack(self)
        self._undo_stack.setUndoLimit(UNDO_LIMIT)

        self._brush_size = 32
        self._hardness = 1.0
        self._erase = False
        self._overlay_color = QColor(255, 32, 64)
        self._overlay_opacity = 0.5
        self._feather = 0.0
        self._grow = 0
        self._show_effective = False

        self._view = ViewTransform()
        self._fit_mode = True

        self._stroke_before: np.ndarray | None = None
        self._stroke_rect: PixelRect | None = None
        self._stroke_erase = False
        self._stroke_button = Qt.MouseButton.NoButton
        self._stroke_from_tablet = False
        self._last_sample: BrushSample | None = None

        self._panning = False
        self._pan_button = Qt.MouseButton.NoButton
        self._pan_last = QPointF()
        self._space_held = False

        self._cursor_sample: BrushSample | None = None

    # ------------------------------------------------------------------ image
    def has_image(self) -> bool:
        return self._image is not None

    def image(self) -> QImage | None:
        """The loaded image as RGB888 or RGBA8888 (implicitly shared; cheap to return)."""
        return self._image

    def image_size(self) -> QSize:
        return QSize(0, 0) if self._image is None else self._image.size()

    def set_image(self, image: QImage, *, keep_mask: bool = False) -> None:
        """Show ``image`` (any QImage format; converted to RGB888 / RGBA8888).

        The mask is cleared, along with the undo history, unless ``keep_mask`` is true and the new
        image has the same size as the old one (e.g. a result loaded back for another pass).
        """
        image = image_io.normalize_qimage(image)
        self._end_stroke(commit=True)
        same_size = self._image is not None and self._image.size() == image.size()
        self._image = image
        self._display = image.convertToFormat(
            QImage.Format.Format_ARGB32_Premultiplied
            if image.hasAlphaChannel()
            else QImage.Format.Format_RGB32
        )
        mask_reset = not (keep_mask and same_size)
        if mask_reset:
            self._mask = np.zeros((image.height(), image.width()), dtype=np.uint8)
            self._undo_stack.clear()
            self._overlay = OverlayCache(
                image.width(), image.height(), self._overlay_color, self._overlay_opacity
            )
        self._fit_mode = True
        self._apply_fit()
        self._refresh_overlay_full()
        self.update()
        self.image_changed.emit()
        if mask_reset:
            self.mask_changed.emit()

    def load_image_file(self, path: str | Path) -> None:
        """Load an image file (decoded by Pillow). Raises UserFacingError if it is not one."""
        self.set_image(image_io.load_image_file(path))

    @Slot()
    def paste_from_clipboard(self) -> bool:
        """Load the clipboard's image (or image file); emits image_load_failed when it has none."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            self.image_load_failed.emit("The clipboard is empty. Copy an image and try again.")
            return False
        try:
            self.set_image(image_io.image_from_mime(mime))
        except UserFacingError as error:
            self.image_load_failed.emit(str(error))
            return False
        return True

    # ------------------------------------------------------------------- mask
    def mask_buffer(self) -> np.ndarray:
        """The live mask array (for undo commands); use :meth:`mask_array` for a copy."""
        return self._mask

    def mask_array(self) -> np.ndarray:
        """A copy of the painted mask: HxW uint8 (0 or 255 with a hard brush)."""
        return self._mask.copy()

    def mask_image(self) -> QImage:
        """A copy of the painted mask as a ``Format_Grayscale8`` QImage."""
        height, width = self._mask.shape
        if width == 0 or height == 0:
            return QImage()
        buffer = np.ascontiguousarray(self._mask)
        return QImage(buffer.data, width, height, width, QImage.Format.Format_Grayscale8).copy()

    def set_mask_array(self, mask: np.ndarray, *, undoable: bool = True) -> None:
        """Replace the mask with an HxW array (uint8, or bool for 0/255) the image's size."""
        if self._image is None:
            raise ValueError("set_mask_array needs an image first")
        array = np.asarray(mask)
        if array.shape != self._mask.shape:
            raise ValueError(f"mask shape {array.shape} does not match image {self._mask.shape}")
        if array.dtype == np.bool_:
            array = array.astype(np.uint8) * 255
        elif array.dtype != np.uint8:
            raise ValueError(f"mask must be uint8 or bool, not {array.dtype}")
        self._replace_mask(array, "Set mask", undoable=undoable)

    def set_mask_image(self, mask: QImage, *, undoable: bool = True) -> None:
        """Replace the mask with a same-size image (converted to greyscale)."""
        if self._image is None or mask.size() != self._image.size():
            raise ValueError("the mask image must have the same size as the image")
        grey = mask.convertToFormat(QImage.Format.Format_Grayscale8)
        rows = np.frombuffer(grey.constBits(), dtype=np.uint8).reshape(
            grey.height(), grey.bytesPerLine()
        )
        self.set_mask_array(rows[:, : grey.width()].copy(), undoable=undoable)

    @Slot()
    def fill_mask(self) -> None:
        """Mask the whole image (undoable)."""
        if self._image is not None:
            self._replace_mask(np.full_like(self._mask, 255), "Fill mask")

    @Slot()
    def clear_mask(self) -> None:
        """Unmask the whole image (undoable)."""
        if self._image is not None:
            self._replace_mask(np.zeros_like(self._mask), "Clear mask")

    @Slot()
    def invert_mask(self) -> None:
        """Swap masked and unmasked (``255 - value``; undoable)."""
        if self._image is None:
            return
        self._end_stroke(commit=True)
        self._undo_stack.push(InvertMaskCommand(self))

    def effective_mask(self) -> np.ndarray:
        """Exactly the mask a pipeline gets: grown/shrunk, then feathered (HxW uint8, a copy)."""
        return mask_ops.effective_mask(self._mask, self._grow, self._feather)

    def _replace_mask(self, new: np.ndarray, text: str, *, undoable: bool = True) -> None:
        self._end_stroke(commit=True)
        if undoable:
            command = MaskPatchCommand.from_masks(self, self._mask, new, text)
            if command is None:
                return
            self._mask[...] = new
            self._undo_stack.push(command)
            self.notify_mask_region_changed(command.rect)
        else:
            # Older undo steps would patch a mask they no longer describe.
            self._undo_stack.clear()
            self._mask[...] = new
            self.notify_mask_region_changed(self._full_rect())

    def notify_mask_region_changed(self, rect: PixelRect) -> None:
        """Refresh the overlay and the screen for ``rect`` and emit mask_changed."""
        if self._stroke_before is not None:
            # Something else (an undo during a stroke) changed the mask: stop the stroke here;
            # what it painted so far stays but is not recorded.
            self._stroke_before = None
            self._last_sample = None
        self._refresh_region(rect)
        self.mask_changed.emit()

    def _full_rect(self) -> PixelRect:
        return PixelRect.full(self._mask.shape[1], self._mask.shape[0])

    # ---------------------------------------------------------------- undo
    def undo_stack(self) -> QUndoStack:
        """The canvas's undo history; make Undo/Redo actions with ``createUndoAction``."""
        return self._undo_stack

    @Slot()
    def undo(self) -> None:
        self._end_stroke(commit=True)
        self._undo_stack.undo()

    @Slot()
    def redo(self) -> None:
        self._end_stroke(commit=True)
        self._undo_stack.redo()

    def undo_memory_bytes(self) -> int:
        """Pixel bytes held by all commands in the undo history."""
        total = 0
        for index in range(self._undo_stack.count()):
            command = self._undo_stack.command(index)
            total += int(getattr(command, "stored_bytes", 0))
        return total

    # --------------------------------------------------------------- brush
    def brush_size(self) -> int:
        """Brush diameter in image pixels (at full pen pressure)."""
        return self._brush_size

    @Slot(int)
    def set_brush_size(self, size: int) -> None:
        size = max(MIN_BRUSH_SIZE, min(MAX_BRUSH_SIZE, int(size)))
        if size == self._brush_size:
            return
        old = self._cursor_sample
        self._brush_size = size
        if old is not None:
            self._cursor_sample = BrushSample(old.x, old.y, size / 2.0)
            self._update_cursor(old, self._cursor_sample)
        self.brush_size_changed.emit(size)

    def brush_hardness(self) -> float:
        """1.0 = hard edge (mask values 0/255 only); 0.0 = soft from the centre out."""
        return self._hardness

    @Slot(float)
    def set_brush_hardness(self, hardness: float) -> None:
        hardness = max(0.0, min(1.0, float(hardness)))
        if hardness != self._hardness:
            self._hardness = hardness
            self.brush_hardness_changed.emit(hardness)

    def erase_mode(self) -> bool:
        return self._erase

    @Slot(bool)
    def set_erase_mode(self, erase: bool) -> None:
        if bool(erase) != self._erase:
            self._erase = bool(erase)
            self.erase_mode_changed.emit(self._erase)

    @Slot()
    def toggle_erase_mode(self) -> None:
        self.set_erase_mode(not self._erase)

    # ------------------------------------------------------------- overlay
    def overlay_color(self) -> QColor:
        return QColor(self._overlay_color)

    @Slot(QColor)
    def set_overlay_color(self, color: QColor) -> None:
        self._overlay_color = QColor(color)
        self._restyle_overlay()

    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    @Slot(float)
    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_opacity = max(0.0, min(1.0, float(opacity)))
        self._restyle_overlay()

    def show_effective_mask(self) -> bool:
        """Whether the overlay shows the effective mask (grown/shrunk + feathered)."""
        return self._show_effective

    @Slot(bool)
    def set_show_effective_mask(self, show: bool) -> None:
        if bool(show) != self._show_effective:
            self._show_effective = bool(show)
            self._refresh_overlay_full()

    # --------------------------------------------------------- mask options
    @property
    def feather(self) -> float:
        """Feather (Gaussian blur standard deviation, px) applied to the effective mask."""
        return self._feather

    @feather.setter
    def feather(self, radius: float) -> None:
        self.set_feather(radius)

    @Slot(float)
    def set_feather(self, radius: float) -> None:
        radius = max(0.0, min(MAX_FEATHER, float(radius)))
        if radius != self._feather:
            self._feather = radius
            self._options_changed()

    @property
    def grow(self) -> int:
        """Grow (> 0, dilate) or shrink (< 0, erode) the effective mask by this many px."""
        return self._grow

    @grow.setter
    def grow(self, pixels: int) -> None:
        self.set_grow(pixels)

    @Slot(int)
    def set_grow(self, pixels: int) -> None:
        pixels = max(-MAX_GROW, min(MAX_GROW, int(pixels)))
        if pixels != self._grow:
            self._grow = pixels
            self._options_changed()

    def _options_changed(self) -> None:
        if self._show_effective:
            self._refresh_overlay_full()
        self.mask_options_changed.emit()

    # ---------------------------------------------------------------- view
    def zoom(self) -> float:
        return self._view.zoom

    def view_offset(self) -> QPointF:
        """Widget position of the image's top-left corner."""
        return QPointF(self._view.offset_x, self._view.offset_y)

    @Slot(float)
    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (default: the widget centre) fixed."""
        if anchor is None:
            anchor = QPointF(self.width() / 2.0, self.height() / 2.0)
        self._fit_mode = False
        self._view.zoom_at(anchor.x(), anchor.y(), zoom)
        self._view_changed()

    def set_view(self, zoom: float, offset: QPointF) -> None:
        """Set zoom and the widget position of the image's top-left corner directly."""
        self._fit_mode = False
        self._view.zoom_at(0.0, 0.0, zoom)
        self._view.offset_x, self._view.offset_y = offset.x(), offset.y()
        self._view_changed()

    @Slot()
    def fit_to_view(self) -> None:
        """Show the whole image (at most 100 %), and keep fitting it when the widget resizes."""
        self._fit_mode = True
        self._apply_fit()
        self._view_changed()

    def map_to_image(self, point: QPointF) -> QPointF:
        """Widget coordinates to image coordinates (pixel (i, j) spans [i, i+1) x [j, j+1))."""
        x, y = self._view.to_image(point.x(), point.y())
        return QPointF(x, y)

    def map_from_image(self, point: QPointF) -> QPointF:
        x, y = self._view.to_widget(point.x(), point.y())
        return QPointF(x, y)

    def _apply_fit(self) -> None:
        size = self.image_size()
        self._view.fit(self.width(), self.height(), size.width(), size.height())

    def _view_changed(self) -> None:
        self.zoom_changed.emit(self._view.zoom)
        self.update()

    # ------------------------------------------------------------ painting
    def _sample_at(self, pos: QPointF, pressure: float | None, from_tablet: bool) -> BrushSample:
        # A mouse position names a whole widget pixel, so paint at that pixel's centre; a pen
        # position is already sub-pixel.
        shift = 0.0 if from_tablet else 0.5
        x, y = self._view.to_image(pos.x() + shift, pos.y() + shift)
        scale = 1.0 if pressure is None else max(0.0, min(1.0, pressure))
        return BrushSample(x, y, self._brush_size / 2.0 * scale)

    def _begin_stroke(
        self, sample: BrushSample, *, erase: bool, button: Qt.MouseButton, from_tablet: bool
    ) -> None:
        self._end_stroke(commit=True)
        self._stroke_before = self._stroke_snapshot(erase)
        self._stroke_rect = None
        self._stroke_erase = erase
        self._stroke_button = button
        self._stroke_from_tablet = from_tablet
        self._last_sample = sample
        self._paint(sample, sample)

    def _continue_stroke(self, sample: BrushSample) -> None:
        if self._stroke_before is None or self._last_sample is None:
            return
        self._paint(self._last_sample, sample)
        self._last_sample = sample

    def _paint(self, a: BrushSample, b: BrushSample) -> None:
        boxes = paint_segment(self._mask, a, b, hardness=self._hardness, erase=self._stroke_erase)
        for box in boxes:
            self._stroke_rect = box.union(self._stroke_rect)
            self._refresh_region(box)

    def _stroke_snapshot(self, erase: bool) -> np.ndarray:
        """What a stroke starts from (its undo command's "before"); a subclass painting
        elsewhere starts its own layer here."""
        return self._mask.copy()

    def _forget_stroke(self) -> tuple[np.ndarray | None, PixelRect | None]:
        """Leave the stroke state; (what it started from, the box it painted)."""
        before, rect = self._stroke_before, self._stroke_rect
        self._stroke_before = None
        self._stroke_rect = None
        self._last_sample = None
        self._stroke_button = Qt.MouseButton.NoButton
        self._stroke_from_tablet = False
        return before, rect

    def _end_stroke(self, *, commit: bool) -> None:
        before, rect = self._forget_stroke()
        if before is None or rect is None or not commit:
            return
        text = "Erase" if self._stroke_erase else "Paint"
        command = MaskPatchCommand.from_masks(self, before, self._mask, text, hint=rect)
        if command is not None:
            self._undo_stack.push(command)
            self.mask_changed.emit()

    def is_stroke_active(self) -> bool:
        return self._stroke_before is not None

    # ------------------------------------------------------- overlay cache
    def _refresh_region(self, rect: PixelRect) -> None:
        if self._overlay is None:
            return
        full = self._full_rect()
        if self._show_effective and (self._grow != 0 or self._feather > 0):
            rect = rect.adjusted(mask_ops.influence_margin(self._grow, self._feather))
            rect = rect.intersected(full)
            values = mask_ops.effective_region(self._mask, rect, self._grow, self._feather)
            self._overlay.refresh(self._mask, rect, values)
        else:
            rect = rect.intersected(full)
            self._overlay.refresh(self._mask, rect)
        if not rect.is_empty():
            self.update(QRect(*self._view.image_rect_to_widget(rect)))

    def _refresh_overlay_full(self) -> None:
        if self._overlay is None:
            return
        full = self._full_rect()
        values = self.effective_mask() if self._show_effective else None
        self._overlay.refresh(self._mask, full, values)
        self.update()

    def _restyle_overlay(self) -> None:
        if self._overlay is None:
            self.update()
            return
        source = self.effective_mask() if self._show_effective else self._mask
        self._overlay.set_style(self._overlay_color, self._overlay_opacity, source)
        self.update()

    # ------------------------------------------------------- brush cursor
    def _cursor_widget_rect(self, sample: BrushSample) -> QRect:
        left, top, right, bottom = segment_bounds(sample, sample)
        x0, y0 = self._view.to_widget(left, top)
        x1, y1 = self._view.to_widget(right, bottom)
        return QRectF(QPointF(x0, y0), QPointF(x1, y1)).toAlignedRect().adjusted(-3, -3, 3, 3)

    def _update_cursor(self, old: BrushSample | None, new: BrushSample | None) -> None:
        if old is not None:
            self.update(self._cursor_widget_rect(old))
        if new is not None:
            self.update(self._cursor_widget_rect(new))

    def _move_cursor(self, sample: BrushSample | None) -> None:
        old = self._cursor_sample
        self._cursor_sample = sample
        self._update_cursor(old, sample)

    # -------------------------------------------------------------- events
    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(640, 640)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(64, 64)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, _BACKGROUND)
        if self._display is not None and self._overlay is not None:
            # A margin of image pixels beyond the exposed area, so that smooth scaling samples
            # the same neighbours as a full repaint would (no seams along dirty rectangles).
            margin = max(1, math.ceil(2.0 / self._view.zoom))
            image_rect = (
                self._view.widget_rect_to_image(
                    exposed.x(), exposed.y(), exposed.width(), exposed.height()
                )
                .adjusted(margin)
                .intersected(PixelRect.full(self._display.width(), self._display.height()))
            )
            if not image_rect.is_empty():
                x0, y0 = self._view.to_widget(image_rect.x0, image_rect.y0)
                x1, y1 = self._view.to_widget(image_rect.x1, image_rect.y1)
                target = QRectF(QPointF(x0, y0), QPointF(x1, y1))
                source = QRectF(image_rect.x0, image_rect.y0, image_rect.width, image_rect.height)
                if self._display.hasAlphaChannel():
                    painter.fillRect(target, self._checker)
                painter.setRenderHint(
                    QPainter.RenderHint.SmoothPixmapTransform, self._view.zoom < 1.0
                )
                painter.drawImage(target, self._display, source)
                self._draw_layers(painter, target, source)
                painter.drawImage(target, self._overlay.image, source)
            self._draw_over(painter)
        sample = self._cursor_sample
        if sample is not None and not self._panning and not self._space_held:
            cx, cy = self._view.to_widget(sample.x, sample.y)
            radius = max(1.0, sample.radius * self._view.zoom)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0, 200), 1.0))
            painter.drawEllipse(QPointF(cx, cy), radius + 1.0, radius + 1.0)
            painter.setPen(QPen(QColor(255, 255, 255, 230), 1.0))
            painter.drawEllipse(QPointF(cx, cy), radius, radius)
        painter.end()

    def _draw_layers(self, painter: QPainter, target: QRectF, source: QRectF) -> None:
        """Hook: layers between the image and the mask overlay (the paint canvas's colour)."""

    def _draw_over(self, painter: QPainter) -> None:
        """Hook: marks drawn over the image in widget coordinates (the crop box)."""

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self._fit_mode:
            self._apply_fit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        button = event.button()
        if self._image is None or self._stroke_from_tablet:
            event.ignore()
            return
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space_held
        ):
            self._start_pan(event.position(), button)
        elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            erase = self._erase != (button == Qt.MouseButton.RightButton)
            sample = self._sample_at(event.position(), None, from_tablet=False)
            self._begin_stroke(sample, erase=erase, button=button, from_tablet=False)
            self._move_cursor(sample)
        else:
            event.ignore()
            return
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke_from_tablet:
            event.accept()
            return
        if self._panning:
            self._pan_to(event.position())
        else:
            sample = self._sample_at(event.position(), None, from_tablet=False)
            self._continue_stroke(sample)
            self._move_cursor(sample if self._image is not None else None)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        button = event.button()
        if self._panning and button == self._pan_button:
            self._stop_pan()
        elif self._stroke_before is not None and button == self._stroke_button:
            if not self._stroke_from_tablet:
                self._end_stroke(commit=True)
        else:
            event.ignore()
            return
        event.accept()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802 - Qt override
        if self._image is None or self._panning:
            event.ignore()
            return
        device = event.pointingDevice()
        has_pressure = device is not None and bool(
            device.capabilities() & QInputDevice.Capability.Pressure
        )
        pressure = event.pressure() if has_pressure else None
        sample = self._sample_at(event.position(), pressure, from_tablet=True)
        kind = event.type()
        if kind == QTabletEvent.Type.TabletPress:
            eraser_end = event.pointerType() == QPointingDevice.PointerType.Eraser
            erase = self._erase != (eraser_end or event.button() == Qt.MouseButton.RightButton)
            self._begin_stroke(sample, erase=erase, button=event.button(), from_tablet=True)
        elif kind == QTabletEvent.Type.TabletMove:
            if self._stroke_from_tablet:
                self._continue_stroke(sample)
        elif kind == QTabletEvent.Type.TabletRelease and self._stroke_from_tablet:
            self._continue_stroke(sample)
            self._end_stroke(commit=True)
        # The outline shows the full-pressure size while hovering.
        self._move_cursor(
            sample
            if self._stroke_before is not None
            else BrushSample(sample.x, sample.y, self._brush_size / 2.0)
        )
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt override
        if self._image is None:
            event.ignore()
            return
        steps = event.angleDelta().y() / 120.0
        if steps == 0.0:
            event.ignore()
            return
        anchor = event.position()
        self.set_zoom(self._view.zoom * WHEEL_STEP**steps, anchor)
        if self._cursor_sample is not None:
            self._cursor_sample = self._sample_at(anchor, None, from_tablet=False)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key = event.key()
        modifiers = event.modifiers()
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        alt = bool(modifiers & Qt.KeyboardModifier.AltModifier)
        # "[" and "]" need Shift or AltGr (Ctrl+Alt on Windows) on many layouts: accept those,
        # refuse Ctrl/Meta shortcuts.
        plain = not (modifiers & Qt.KeyboardModifier.MetaModifier) and (not ctrl or alt)
        if key == Qt.Key.Key_BracketLeft and plain:
            self.set_brush_size(step_size(self._brush_size, up=False))
        elif key == Qt.Key.Key_BracketRight and plain:
            self.set_brush_size(step_size(self._brush_size, up=True))
        elif key == Qt.Key.Key_X and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if not event.isAutoRepeat():
                self.toggle_erase_mode()
        elif key == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if not event.isAutoRepeat():
                self._space_held = True
                self._move_cursor(None)
                self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif event.matches(QKeySequence.StandardKey.Paste):
            self.paste_from_clipboard()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            if not self._panning:
                self.setCursor(Qt.CursorShape.CrossCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        self._space_held = False
        if not self._panning:
            self.setCursor(Qt.CursorShape.CrossCursor)
        super().focusOutEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if self._stroke_before is None:
            self._move_cursor(None)
        super().leaveEvent(event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime is not None and (mime.hasImage() or mime.hasUrls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime is not None and (mime.hasImage() or mime.hasUrls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if mime is None:
            event.ignore()
            return
        event.acceptProposedAction()
        try:
            self.set_image(image_io.image_from_mime(mime))
        except UserFacingError as error:
            self.image_load_failed.emit(str(error))

    # ----------------------------------------------------------------- pan
    def _start_pan(self, pos: QPointF, button: Qt.MouseButton) -> None:
        self._end_stroke(commit=True)
        self._panning = True
        self._pan_button = button
        self._pan_last = QPointF(pos)
        self._move_cursor(None)
        self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def _pan_to(self, pos: QPointF) -> None:
        delta = pos - self._pan_last
        self._pan_last = QPointF(pos)
        if delta.isNull():
            return
        self._fit_mode = False
        self._view.pan(delta.x(), delta.y())
        self.update()

    def _stop_pan(self) -> None:
        self._panning = False
        self._pan_button = Qt.MouseButton.NoButton
        self.setCursor(
            Qt.CursorShape.OpenHandCursor if self._space_held else Qt.CursorShape.CrossCursor
        )
