"""The mask canvas plus a colour paint layer, the crop-box outline and undoable image swaps.

:class:`PaintCanvas` adds to :class:`~sd21_desktop.ui.mask_canvas.MaskCanvas`:

* a **paint layer** (:mod:`sd21_desktop.ui.canvas.paint_layer`) above the image: with the tool set
  to ``paint`` the brush (size, hardness, pen pressure as for masks) lays down colour at the paint
  opacity, the eraser (right button, X, a pen's eraser end) removes it, and Alt+click picks the
  colour under the pointer (eyedropper). Paint strokes go on the *same* undo stack as mask
  strokes, one step per stroke, so undo/redo interleave in the order things were done.
* the **crop box** of "Inpaint area: Only masked", drawn as a dashed rectangle while painting.
* :meth:`replace_image`: a result takes the image's place (the mask kept, the paint cleared, as it
  is now part of the image) as one undo step.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QUndoCommand
from PySide6.QtWidgets import QWidget

from sd21_desktop.qt.images import qimage_to_rgb_array

from .canvas.brush import BrushSample
from .canvas.geometry import PixelRect
from .canvas.paint_layer import PaintLayer, composite, sketch_mask
from .canvas.undo import MaskPatchCommand
from .mask_canvas import MaskCanvas

TOOLS = ("mask", "paint")


class _LayerTarget:
    """The paint layer as the undo commands' target."""

    def __init__(self, canvas: PaintCanvas) -> None:
        self._canvas = canvas

    def mask_buffer(self) -> np.ndarray:
        return self._canvas.paint_layer().pixels

    def notify_mask_region_changed(self, rect: PixelRect) -> None:
        self._canvas.refresh_paint(rect)


class _ReplaceImageCommand(QUndoCommand):
    """One image for another (same size); the paint layer cleared and given back on undo."""

    def __init__(self, canvas: PaintCanvas, old: QImage, new: QImage, paint: np.ndarray) -> None:
        super().__init__("Use result")
        self._canvas, self._old, self._new, self._paint = canvas, old, new, paint

    def undo(self) -> None:
        self._canvas._swap_image(self._old, self._paint)

    def redo(self) -> None:
        self._canvas._swap_image(self._new, None)


class PaintCanvas(MaskCanvas):
    """A :class:`MaskCanvas` with a colour layer (see the module docstring)."""

    paint_changed = Signal()
    paint_colour_changed = Signal(QColor)
    tool_changed = Signal(str)
    stroke_grew = Signal(int, int, int, int)
    """During a mask stroke: the box it painted so far (x0, y0, x1, y1), for the crop outline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self._layer = PaintLayer(0, 0)
        super().__init__(parent)
        self._tool = "mask"
        self._paint_colour = QColor(220, 60, 40)
        self._paint_opacity = 1.0
        self._layer_stroke = False
        self._crop_box: tuple[int, int, int, int] | None = None

    # -- the layer --------------------------------------------------------------------------
    def paint_layer(self) -> PaintLayer:
        return self._layer

    def set_image(self, image: QImage, *, keep_mask: bool = False) -> None:
        size = image.size()
        keep = keep_mask and (self._layer.image.size() == size)
        super().set_image(image, keep_mask=keep_mask)
        if not keep:
            visible = self._layer.visible
            self._layer = PaintLayer(size.width(), size.height())
            self._layer.visible = visible
            self.paint_changed.emit()

    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        if tool != self._tool:
            self._end_stroke(commit=True)
            self._tool = tool
            self.tool_changed.emit(tool)

    def paint_colour(self) -> QColor:
        return QColor(self._paint_colour)

    def set_paint_colour(self, colour: QColor) -> None:
        if colour != self._paint_colour:
            self._paint_colour = QColor(colour)
            self.paint_colour_changed.emit(QColor(colour))

    def paint_opacity(self) -> float:
        return self._paint_opacity

    def set_paint_opacity(self, opacity: float) -> None:
        self._paint_opacity = max(0.0, min(1.0, float(opacity)))

    def paint_visible(self) -> bool:
        return self._layer.visible

    def set_paint_visible(self, visible: bool) -> None:
        self._layer.visible = bool(visible)
        self.update()
        self.paint_changed.emit()

    def has_paint(self) -> bool:
        return self._layer.visible and not self._layer.is_empty()

    def clear_paint(self) -> None:
        """Remove all colour (one undo step)."""
        if self._image is None or self._layer.is_empty():
            return
        self._end_stroke(commit=True)
        before = self._layer.pixels.copy()
        self._layer.pixels[...] = 0
        self._push_paint(before, "Clear paint")

    def composite_array(self) -> np.ndarray:
        """HxWx3 RGB: the image with the visible paint flattened onto it."""
        assert self._image is not None
        return composite(qimage_to_rgb_array(self._image), self._layer)

    def sketch_mask(self) -> np.ndarray:
        """Inpaint sketch: the painted strokes as a mask, grown by the brush's softness."""
        return sketch_mask(self._layer, self.brush_size(), self.brush_hardness())

    def pick_colour(self, x: int, y: int) -> QColor | None:
        """Eyedropper: the composite colour at an image pixel (None outside the image)."""
        image = self._image
        if image is None or not (0 <= x < image.width() and 0 <= y < image.height()):
            return None
        rgb = qimage_to_rgb_array(image.copy(x, y, 1, 1))
        layer = PaintLayer(1, 1)
        layer.pixels[...] = self._layer.pixels[y : y + 1, x : x + 1]
        colour = layer.colour_at(rgb, 0, 0)
        self.set_paint_colour(colour)
        return colour

    def refresh_paint(self, rect: PixelRect) -> None:
        rect = rect.intersected(self._full_rect())
        if not rect.is_empty():
            self.update(QRect(*self._view.image_rect_to_widget(rect)))
        self.paint_changed.emit()

    def _push_paint(self, before: np.ndarray, text: str) -> None:
        command = MaskPatchCommand.from_masks(_LayerTarget(self), before, self._layer.pixels, text)
        if command is not None:
            self._undo_stack.push(command)
            self.refresh_paint(command.rect)

    # -- replacing the image ----------------------------------------------------------------
    def replace_image(self, image: QImage) -> None:
        """Show ``image`` instead of the current one of the same size, keeping the mask; one
        undo step (the paint, now part of the picture, is cleared and comes back on undo)."""
        if self._image is None or image.size() != self._image.size():
            self.set_image(image)
            return
        self._end_stroke(commit=True)
        command = _ReplaceImageCommand(self, self._image, image, self._layer.pixels.copy())
        self._undo_stack.push(command)

    def _swap_image(self, image: QImage, paint: np.ndarray | None) -> None:
        MaskCanvas.set_image(self, image, keep_mask=True)
        self._layer.pixels[...] = 0 if paint is None else paint
        self.update()
        self.paint_changed.emit()

    # -- the crop box -----------------------------------------------------------------------
    def crop_box(self) -> tuple[int, int, int, int] | None:
        return self._crop_box

    def set_crop_box(self, box: tuple[int, int, int, int] | None) -> None:
        if box != self._crop_box:
            old, self._crop_box = self._crop_box, box
            self._update_outline(old)
            self._update_outline(box)

    def _update_outline(self, box: tuple[int, int, int, int] | None) -> None:
        """Repaint only the four edges of a box (a full repaint per move would be slow)."""
        if box is None:
            return
        left, top = self._view.to_widget(box[0], box[1])
        right, bottom = self._view.to_widget(box[2], box[3])
        outer = QRectF(QPointF(left, top), QPointF(right, bottom)).toAlignedRect()
        outer = outer.adjusted(-2, -2, 2, 2)
        for edge in (
            QRect(outer.left(), outer.top(), outer.width(), 5),
            QRect(outer.left(), outer.bottom() - 4, outer.width(), 5),
            QRect(outer.left(), outer.top(), 5, outer.height()),
            QRect(outer.right() - 4, outer.top(), 5, outer.height()),
        ):
            self.update(edge)

    # -- strokes ----------------------------------------------------------------------------
    def _stroke_snapshot(self, erase: bool) -> np.ndarray:
        if self._tool != "paint":
            return super()._stroke_snapshot(erase)
        self._layer.begin(self._paint_colour, self._paint_opacity, erase)
        self._layer_stroke = True
        return self._mask  # only marks "a stroke is on"; the layer keeps its own copy

    def _paint(self, a: BrushSample, b: BrushSample) -> None:
        if not self._layer_stroke:
            super()._paint(a, b)
            if self._stroke_rect is not None:
                rect = self._stroke_rect
                self.stroke_grew.emit(rect.x0, rect.y0, rect.x1, rect.y1)
            return
        for box in self._layer.segment(a, b, self.brush_hardness()):
            self._stroke_rect = box.union(self._stroke_rect)
            self.update(QRect(*self._view.image_rect_to_widget(box)))

    def _end_stroke(self, *, commit: bool) -> None:
        if not self._layer_stroke:
            super()._end_stroke(commit=commit)
            return
        self._layer_stroke = False
        _, rect = self._forget_stroke()
        before = self._layer.end()
        if before is None or rect is None:
            return
        if not commit:
            self._layer.pixels[...] = before
            return
        text = "Erase paint" if self._stroke_erase else "Paint colour"
        command = MaskPatchCommand.from_masks(
            _LayerTarget(self), before, self._layer.pixels, text, hint=rect
        )
        if command is not None:
            self._undo_stack.push(command)
            self.paint_changed.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        alt = bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
        if self._tool == "paint" and alt and event.button() == Qt.MouseButton.LeftButton:
            x, y = self._view.to_image(event.position().x(), event.position().y())
            self.pick_colour(int(x), int(y))
            event.accept()
            return
        super().mousePressEvent(event)

    # -- drawing ----------------------------------------------------------------------------
    def _draw_layers(self, painter: QPainter, target: QRectF, source: QRectF) -> None:
        if self._layer.visible and self._layer.image.width() > 0:
            painter.drawImage(target, self._layer.image, source)

    def _draw_over(self, painter: QPainter) -> None:
        if self._crop_box is None:
            return
        x0, y0, x1, y1 = self._crop_box
        left, top = self._view.to_widget(x0, y0)
        right, bottom = self._view.to_widget(x1, y1)
        rect = QRectF(QPointF(left, top), QPointF(right, bottom)).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 220), 1.0))
        painter.drawRect(rect)
        dashed = QPen(QColor(255, 255, 255, 240), 1.0, Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        painter.drawRect(rect)
