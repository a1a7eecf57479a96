"""The canvas tab: the image to change, the mask painted over it, and the painting tools.

Files are decoded on the thread pool (the GUI thread does no blocking I/O); everything else is
the :class:`MaskCanvas` widget's own behaviour, driven from this toolbar.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.errors import UserFacingError
from sd21_desktop.qt.images import qimage_to_rgb_array
from sd21_desktop.ui.canvas import image_io
from sd21_desktop.ui.control_panel import ControlLayer, ControlPanel
from sd21_desktop.ui.mask_canvas import MaskCanvas
from sd21_desktop.ui.paint_canvas import PaintCanvas
from sd21_desktop.ui.region_panel import RegionPanel
from sd21_desktop.ui.widgets import tool_button
from sd21_desktop.ui.window_layout import HorizontalScroller

OUTPAINT_SIDES = ("left", "top", "right", "bottom")


class _Loaded(QObject):
    done = Signal(QImage, str)  # image (null on failure), error message


class _LoadFile(QRunnable):
    def __init__(self, path: str, relay: _Loaded, label: str = "") -> None:
        super().__init__()
        self.path, self.relay, self.label = path, relay, label

    def run(self) -> None:
        try:
            image, error = image_io.load_image_file(self.path), ""
        except UserFacingError as problem:
            image, error = QImage(), str(problem)
        except Exception as problem:  # a decoder bug must not take the app down
            image, error = QImage(), f"{Path(self.path).name} could not be read: {problem}"
        with contextlib.suppress(RuntimeError):
            self.relay.done.emit(image, error)


def extend_canvas(
    image: QImage, mask: np.ndarray, side: str, pixels: int
) -> tuple[QImage, np.ndarray]:
    """The image grown by ``pixels`` on one side (edge pixels stretched into the new area, a
    neutral start for the fill) and the mask with the new area fully masked."""
    width, height = image.width(), image.height()
    horizontal = side in ("left", "right")
    new_width = width + pixels if horizontal else width
    new_height = height if horizontal else height + pixels
    x = pixels if side == "left" else 0
    y = pixels if side == "top" else 0
    array = qimage_to_rgb_array(image)
    grown = np.zeros((new_height, new_width, 3), dtype=np.uint8)
    grown[y : y + height, x : x + width] = array
    if side == "left":
        grown[:, :x] = array[:, :1]
    elif side == "right":
        grown[:, width:] = array[:, -1:]
    elif side == "top":
        grown[:y, :] = array[:1, :]
    else:
        grown[height:, :] = array[-1:, :]
    new_mask = np.full((new_height, new_width), 255, dtype=np.uint8)
    new_mask[y : y + height, x : x + width] = mask
    result = QImage(grown.data, new_width, new_height, 3 * new_width, QImage.Format.Format_RGB888)
    return result.copy(), new_mask


class DepthPanel(QWidget):
    """Depth mode's depth map beside the image: estimated by the model, or the user's own."""

    estimate_requested = Signal()
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("depthPanel")
        self.depth_map: QImage | None = None
        self.view = QLabel(
            "No depth map: it is estimated from the image when you Generate, "
            "or press Estimate to see it first."
        )
        self.view.setObjectName("depthMapView")
        self.view.setAccessibleName("Depth map")
        self.view.setWordWrap(True)
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setMinimumWidth(220)
        # The pixmap must not widen the panel: the canvas keeps the room.
        self.view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMaximumWidth(340)
        self.source_label = QLabel("")
        self.source_label.setObjectName("depthSourceLabel")
        self.source_label.setWordWrap(True)
        self._relay = _Loaded(self)
        self._relay.done.connect(self._on_loaded)
        buttons = QHBoxLayout()
        for label, name, slot in (
            ("Estimate", "estimateDepthButton", self.estimate_requested.emit),
            ("Load…", "loadDepthButton", self.choose_file),
            ("Clear", "clearDepthButton", self.clear),
        ):
            widget = tool_button(label)
            widget.setObjectName(name)
            widget.setAccessibleName(f"{label} depth map")
            widget.clicked.connect(slot)
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("<b>Depth map</b> (white = near)"))
        layout.addWidget(self.view, 1)
        layout.addWidget(self.source_label)
        layout.addLayout(buttons)

    def set_depth_map(self, image: QImage, source: str) -> None:
        self.depth_map = image.convertToFormat(QImage.Format.Format_Grayscale8)
        self.source_label.setText(source)
        self._show()

    def _show(self) -> None:
        if self.depth_map is None:
            return
        pixmap = QPixmap.fromImage(self.depth_map)
        self.view.setPixmap(
            pixmap.scaled(
                self.view.width(),
                max(self.view.height(), 120),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    @Slot()
    def clear(self) -> None:
        self.depth_map = None
        self.view.setPixmap(QPixmap())
        self.view.setText("No depth map: it is estimated from the image when you Generate.")
        self.source_label.setText("")

    @Slot()
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load a depth map (greyscale, white = near)",
            "",
            "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)",
        )
        if path:
            self.source_label.setText(f"Loading {Path(path).name}…")
            QThreadPool.globalInstance().start(_LoadFile(path, self._relay, Path(path).name))

    @Slot(QImage, str)
    def _on_loaded(self, image: QImage, error: str) -> None:
        if error or image.isNull():
            self.source_label.setText(error or "The depth map could not be read.")
            return
        self.set_depth_map(image, "your depth map (the estimator is not used)")

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._show()


class CanvasTab(QWidget):
    message = Signal(str)
    error = Signal(str)
    image_size_changed = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvasTab")
        self.canvas = PaintCanvas()
        self.region = RegionPanel(self.canvas)
        self.region.error.connect(self.error)
        self._relay = _Loaded(self)
        self._relay.done.connect(self._on_loaded)

        def button(label: str, name: str, tip: str, slot: object) -> QToolButton:
            tool = tool_button(label)
            tool.setObjectName(name)
            tool.setAccessibleName(tip)
            tool.setToolTip(tip)
            tool.clicked.connect(slot)  # type: ignore[arg-type]
            return tool

        canvas = self.canvas
        self.brush_size = QSlider(Qt.Orientation.Horizontal)
        self.brush_size.setObjectName("brushSizeSlider")
        self.brush_size.setAccessibleName("Brush size")
        self.brush_size.setRange(1, 400)
        self.brush_size.setValue(canvas.brush_size())
        self.brush_size.setToolTip("Brush size ([ and ])")
        self.hardness = QSlider(Qt.Orientation.Horizontal)
        self.hardness.setObjectName("brushHardnessSlider")
        self.hardness.setAccessibleName("Brush hardness")
        self.hardness.setRange(0, 100)
        self.hardness.setValue(int(canvas.brush_hardness() * 100))
        for slider in (self.brush_size, self.hardness):  # the tool rows scroll rather than
            slider.setMinimumWidth(80)  # squeeze them to nothing on a narrow window
        self.eraser = QCheckBox("Eraser (X)")
        self.eraser.setObjectName("eraserCheck")
        self.feather = QDoubleSpinBox(minimum=0.0, maximum=128.0, singleStep=1.0)
        self.feather.setObjectName("maskFeatherSpin")
        self.feather.setAccessibleName("Mask feather")
        self.feather.setToolTip("Soften the mask edge by this many pixels (CLI: --mask-feather)")
        self.grow = QSpinBox(minimum=-256, maximum=256)
        self.grow.setObjectName("maskGrowSpin")
        self.grow.setAccessibleName("Grow or shrink the mask")
        self.show_sent = QCheckBox("Show mask sent")
        self.show_sent.setObjectName("showEffectiveMaskCheck")
        self.show_sent.setToolTip("Show the mask after grow and feather: what the model gets")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("overlayOpacitySlider")
        self.opacity.setAccessibleName("Mask overlay opacity")
        self.opacity.setRange(5, 95)
        self.opacity.setValue(int(canvas.overlay_opacity() * 100))
        self.outpaint_pixels = QSpinBox(minimum=8, maximum=1024, value=128, singleStep=8)
        self.outpaint_pixels.setObjectName("outpaintPixelsSpin")
        self.outpaint_pixels.setAccessibleName("Pixels to extend")
        self.size_label = QLabel(
            "No image: open one, paste it, drop it here or send one from the gallery."
        )
        self.size_label.setObjectName("canvasSizeLabel")
        self.size_label.setWordWrap(True)  # its help line widened the window past 1024 px

        files = QHBoxLayout()
        open_tip = "Open an image (CLI: --init-image)"
        files.addWidget(button("Open…", "canvasOpenButton", open_tip, self.choose_file))
        files.addWidget(
            button("Paste", "canvasPasteButton", "Paste an image", canvas.paste_from_clipboard)
        )
        files.addSpacing(12)
        files.addWidget(
            button("Undo", "canvasUndoButton", "Undo (Ctrl+Z)", lambda: self.shown().undo())
        )
        files.addWidget(
            button("Redo", "canvasRedoButton", "Redo (Ctrl+Shift+Z)", lambda: self.shown().redo())
        )
        files.addSpacing(12)
        files.addWidget(button("Fill", "maskFillButton", "Mask everything", canvas.fill_mask))
        files.addWidget(button("Clear", "maskClearButton", "Clear the mask", canvas.clear_mask))
        files.addWidget(button("Invert", "maskInvertButton", "Invert the mask", canvas.invert_mask))
        files.addSpacing(12)
        files.addWidget(
            button("Colour…", "overlayColourButton", "Mask overlay colour", self.choose_colour)
        )
        files.addWidget(QLabel("Opacity"))
        self.opacity.setMaximumWidth(120)
        files.addWidget(self.opacity)
        files.addStretch(1)
        brush = QHBoxLayout()
        brush.addWidget(QLabel("Brush"))
        brush.addWidget(self.brush_size, 2)
        brush.addWidget(QLabel("Hardness"))
        brush.addWidget(self.hardness, 1)
        brush.addWidget(self.eraser)
        brush.addWidget(QLabel("Feather"))
        brush.addWidget(self.feather)
        brush.addWidget(QLabel("Grow"))
        brush.addWidget(self.grow)
        brush.addWidget(self.show_sent)
        outpaint = QHBoxLayout()
        outpaint.addWidget(QLabel("Outpaint: extend by"))
        outpaint.addWidget(self.outpaint_pixels)
        outpaint.addWidget(QLabel("px to the"))
        for side in OUTPAINT_SIDES:
            outpaint.addWidget(
                button(
                    side,
                    f"outpaint{side.capitalize()}Button",
                    f"Extend the canvas to the {side} (outpainting)",
                    lambda _=False, s=side: self.extend(s),
                )
            )
        outpaint.addStretch(1)
        tools = QWidget()
        tools_layout = QVBoxLayout(tools)
        tools_layout.setContentsMargins(0, 0, 0, 0)
        tools_layout.addLayout(files)
        tools_layout.addLayout(brush)
        tools_layout.addWidget(self.region)
        self.generation_size: Callable[[], tuple[int, int]] = lambda: (768, 768)
        """The size to run at (set by the window): a new control layer's size without picture."""
        self.controls = ControlPanel(self._control_size, self._picture_array)
        self.controls.error.connect(self.error)
        tools_layout.addWidget(self.controls)
        tools_layout.addLayout(outpaint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(HorizontalScroller(tools))  # scrolls sideways on a narrow window
        self.depth_panel = DepthPanel()
        self.depth_panel.hide()
        self.depth_panel.message.connect(self.message)
        area = QHBoxLayout()
        self.layers = QStackedWidget()  # the picture and mask, or one unit's control layer
        self.layers.setObjectName("canvasLayers")
        self.layers.addWidget(canvas)
        self.controls.layer_added.connect(self._add_layer)
        self.controls.layer_shown.connect(self._show_layer)
        area.addWidget(self.layers, 1)
        area.addWidget(self.depth_panel)
        layout.addLayout(area, 1)
        layout.addWidget(self.size_label)

        self.brush_size.valueChanged.connect(canvas.set_brush_size)
        canvas.brush_size_changed.connect(self._sync_brush_size)
        self.hardness.valueChanged.connect(lambda value: canvas.set_brush_hardness(value / 100))
        self.eraser.toggled.connect(canvas.set_erase_mode)
        canvas.erase_mode_changed.connect(self.eraser.setChecked)
        self.feather.valueChanged.connect(canvas.set_feather)
        self.grow.valueChanged.connect(canvas.set_grow)
        self.show_sent.toggled.connect(canvas.set_show_effective_mask)
        self.opacity.valueChanged.connect(lambda value: canvas.set_overlay_opacity(value / 100))
        canvas.image_changed.connect(self._on_image_changed)
        canvas.image_load_failed.connect(self.error)

    # images ----------------------------------------------------------------------------------
    @Slot()
    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open an image", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
        )
        if path:
            self.open_file(path)

    def open_file(self, path: str) -> None:
        """Decode the file off the GUI thread, then show it (``image_changed`` follows)."""
        self.size_label.setText(f"Opening {Path(path).name}…")
        QThreadPool.globalInstance().start(_LoadFile(path, self._relay))

    @Slot(QImage, str)
    def _on_loaded(self, image: QImage, error: str) -> None:
        if error or image.isNull():
            self.error.emit(error or "The image could not be read.")
            self._on_image_changed()
            return
        self.canvas.set_image(image)
        self.depth_panel.clear()  # a depth map belongs to the image it was made from

    def set_image(self, image: QImage) -> None:
        self.canvas.set_image(image)

    def use_result(self, image: QImage) -> None:
        """A result in the image's place: same size, an undoable swap keeping the mask."""
        self.canvas.replace_image(image)

    @Slot()
    def _on_image_changed(self) -> None:
        if not self.canvas.has_image():
            return
        size = self.canvas.image_size()
        self.size_label.setText(
            f"{size.width()} × {size.height()} px · paint the area to "
            "change (left button), erase (right button), pan (middle "
            "button or Space), zoom (wheel)"
        )
        self.image_size_changed.emit(size.width(), size.height())

    @Slot(int)
    def _sync_brush_size(self, size: int) -> None:
        if self.brush_size.value() != size:
            self.brush_size.setValue(size)

    @Slot()
    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(self.canvas.overlay_color(), self, "Mask overlay colour")
        if colour.isValid():
            self.canvas.set_overlay_color(QColor(colour))

    def extend(self, side: str) -> None:
        """Outpainting: grow the canvas on one side; the new area is masked for inpainting."""
        image = self.canvas.image()
        if image is None:
            self.error.emit("Open an image on the canvas before extending it.")
            return
        pixels = self.outpaint_pixels.value()
        grown, mask = extend_canvas(image, self.canvas.mask_array(), side, pixels)
        self.canvas.set_image(grown)
        self.canvas.set_mask_array(mask, undoable=False)
        self.message.emit(
            f"Extended the canvas by {pixels} px to the {side}; the new area is "
            "masked: choose Inpaint and Generate to fill it."
        )

    def set_mode(self, mode: str) -> None:
        """Depth mode shows the depth map beside the image."""
        self.depth_panel.setVisible(mode == "depth")

    # control layers ---------------------------------------------------------------------------
    def shown(self) -> MaskCanvas:
        """The canvas or control layer on display (what the brush and undo act on)."""
        widget = self.layers.currentWidget()
        return widget if isinstance(widget, MaskCanvas) else self.canvas

    def _control_size(self) -> tuple[int, int]:
        if self.canvas.has_image():
            size = self.canvas.image_size()
            return size.width(), size.height()
        return self.generation_size()

    def _picture_array(self) -> np.ndarray | None:
        return self.canvas.composite_array() if self.canvas.has_image() else None

    @Slot(QWidget)
    def _add_layer(self, layer: QWidget) -> None:
        assert isinstance(layer, ControlLayer)
        layer.set_brush_size(self.brush_size.value())
        layer.set_brush_hardness(self.hardness.value() / 100)
        self.brush_size.valueChanged.connect(layer.set_brush_size)
        self.hardness.valueChanged.connect(lambda value: layer.set_brush_hardness(value / 100))
        self.eraser.toggled.connect(layer.set_erase_mode)
        self.layers.addWidget(layer)

    @Slot(object)
    def _show_layer(self, layer: object) -> None:
        shown = layer if isinstance(layer, ControlLayer) else self.canvas
        self.layers.setCurrentWidget(shown)

    def has_mask(self) -> bool:
        return bool(self.canvas.has_image() and self.canvas.mask_array().any())
