"""The canvas's colour and region controls, and what they add to a request.

One row paints colour (tool, colour, opacity, hide, clear, save, "strokes are the mask"), one
chooses the inpaint area, its padding and the masked content. :meth:`RegionPanel.inputs_for`
turns the canvas into request fields and input images:

* the init image is the canvas image with the visible paint flattened on (sketch), stored by its
  content id like any input, so a re-run reads exactly the composite;
* inpaint: the mask is the painted mask, plus (inpaint sketch) the paint strokes grown by the
  brush's softness; with area ``masked`` the crop box and its processing size come from
  :func:`sd21_desktop.engine.region.region_for_images`, the same function the CLI calls.

The crop box is shown on the canvas whenever the area resolves to ``masked``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.masks import effective_mask
from sd21_desktop.engine.region import default_area, padded_box, region_for_images
from sd21_desktop.engine.request import (
    DEFAULT_MASK_PADDING,
    MASKED_CONTENTS,
    GenerationRequest,
)
from sd21_desktop.errors import InvalidRequestError
from sd21_desktop.ui.paint_canvas import PaintCanvas
from sd21_desktop.ui.widgets import tool_button

AREAS = (("auto", "Area: auto"), ("whole", "Whole picture"), ("masked", "Only masked"))


class RegionPanel(QWidget):
    """Paint and inpaint-area controls for one :class:`PaintCanvas`."""

    error = Signal(str)

    def __init__(self, canvas: PaintCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.native_size = 768
        self.tool = QComboBox()
        self.tool.setObjectName("brushToolCombo")
        self.tool.setAccessibleName("What the brush paints")
        self.tool.addItem("Brush: mask", "mask")
        self.tool.addItem("Brush: colour", "paint")
        self.colour = tool_button("Colour")
        self.colour.setObjectName("paintColourButton")
        self.colour.setToolTip("Paint colour (Alt+click on the canvas picks one)")
        self.paint_opacity = QSlider(Qt.Orientation.Horizontal)
        self.paint_opacity.setObjectName("paintOpacitySlider")
        self.paint_opacity.setAccessibleName("Paint opacity")
        self.paint_opacity.setRange(1, 100)
        self.paint_opacity.setValue(100)
        self.paint_opacity.setMaximumWidth(100)
        self.hide_paint = QCheckBox("Hide paint")
        self.hide_paint.setObjectName("hidePaintCheck")
        self.sketch_mask = QCheckBox("Strokes are the mask")
        self.sketch_mask.setObjectName("inpaintSketchCheck")
        self.sketch_mask.setToolTip(
            "Inpaint sketch: the painted strokes (grown by the brush's softness) are repainted"
        )
        self.area = QComboBox()
        self.area.setObjectName("inpaintAreaCombo")
        self.area.setAccessibleName("Inpaint area")
        for value, label in AREAS:
            self.area.addItem(label, value)
        self.area.setToolTip(
            "Only masked: render the mask's box (dashed) at the model's full resolution and "
            "paste it back. Auto: only masked when the image is larger than the model's size."
        )
        self.padding = QSpinBox(minimum=0, maximum=512, value=DEFAULT_MASK_PADDING)
        self.padding.setObjectName("maskPaddingSpin")
        self.padding.setAccessibleName("Mask padding")
        self.padding.setSuffix(" px")
        self.content = QComboBox()
        self.content.setObjectName("maskedContentCombo")
        self.content.setAccessibleName("Masked content")
        for value in MASKED_CONTENTS:
            self.content.addItem(f"Content: {value.replace('-', ' ')}", value)
        self._layout(canvas)
        self._connect(canvas)
        self._show_colour(canvas.paint_colour())

    def _button(self, label: str, name: str, slot: Any) -> QToolButton:
        button = tool_button(label)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def _layout(self, canvas: PaintCanvas) -> None:
        paint = QHBoxLayout()
        paint.addWidget(self.tool)
        paint.addWidget(self.colour)
        paint.addWidget(QLabel("Opacity"))
        paint.addWidget(self.paint_opacity)
        paint.addWidget(self.hide_paint)
        paint.addWidget(self._button("Clear paint", "paintClearButton", canvas.clear_paint))
        paint.addWidget(self._button("Save paint…", "paintSaveButton", self.save_paint))
        paint.addStretch(1)
        region = QHBoxLayout()
        region.addWidget(self.sketch_mask)
        region.addWidget(self.area)
        region.addWidget(QLabel("Padding"))
        region.addWidget(self.padding)
        region.addWidget(self.content)
        region.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(paint)
        layout.addLayout(region)

    def _connect(self, canvas: PaintCanvas) -> None:
        self.tool.currentIndexChanged.connect(lambda _: canvas.set_tool(self.tool.currentData()))
        canvas.tool_changed.connect(
            lambda tool: self.tool.setCurrentIndex(self.tool.findData(tool))
        )
        self.colour.clicked.connect(self.choose_colour)
        canvas.paint_colour_changed.connect(self._show_colour)
        self.paint_opacity.valueChanged.connect(lambda v: canvas.set_paint_opacity(v / 100))
        self.hide_paint.toggled.connect(lambda hidden: canvas.set_paint_visible(not hidden))
        for signal in (
            canvas.mask_changed,
            canvas.mask_options_changed,
            canvas.image_changed,
            canvas.paint_changed,
            self.area.currentIndexChanged,
            self.padding.valueChanged,
            self.sketch_mask.toggled,
        ):
            signal.connect(self.update_crop_box)
        canvas.stroke_grew.connect(self._grow_crop_box)

    def set_native_size(self, size: int) -> None:
        """The model's native size (what "auto" compares the image with)."""
        if size != self.native_size:
            self.native_size = size
            self.update_crop_box()

    # -- colour ----------------------------------------------------------------------------
    @Slot()
    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(self.canvas.paint_colour(), self, "Paint colour")
        if colour.isValid():
            self.canvas.set_paint_colour(QColor(colour))

    @Slot(QColor)
    def _show_colour(self, colour: QColor) -> None:
        self.colour.setStyleSheet(f"background-color: {colour.name()};")

    @Slot()
    def save_paint(self) -> None:
        if self.canvas.paint_layer().is_empty():
            self.error.emit("There is no paint to save.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the paint layer", "", "PNG (*.png)")
        if path:
            self.paint_image().save(path if path.lower().endswith(".png") else f"{path}.png")

    def paint_image(self) -> Image.Image:
        """The paint layer as a straight-alpha RGBA image (to save with the canvas)."""
        return Image.frombuffer(
            "RGBa", self.canvas.image_size().toTuple(), self.canvas.paint_layer().pixels.tobytes()
        ).convert("RGBA")

    # -- the region ------------------------------------------------------------------------
    def area_value(self) -> str:
        """``whole`` or ``masked`` (auto resolved against the model's native size)."""
        chosen = str(self.area.currentData())
        if chosen != "auto":
            return chosen
        size = self.canvas.image_size()
        return default_area((size.width(), size.height()), self.native_size)

    def raw_mask(self) -> np.ndarray:
        """The mask sent: the painted mask, plus the strokes for inpaint sketch."""
        mask = self.canvas.mask_array()
        if self.sketch_mask.isChecked() and self.canvas.has_paint():
            mask = np.maximum(mask, self.canvas.sketch_mask())
        return mask

    @Slot()
    def update_crop_box(self) -> None:
        canvas = self.canvas
        if not canvas.has_image() or self.area_value() != "masked":
            canvas.set_crop_box(None)
            return
        raw = self.raw_mask()
        if not raw.any():
            canvas.set_crop_box(None)
            return
        effective = effective_mask(raw, int(canvas.grow), float(canvas.feather))
        canvas.set_crop_box(
            padded_box(effective, self.padding.value()) if effective.any() else None
        )

    @Slot(int, int, int, int)
    def _grow_crop_box(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """While a mask stroke goes on: the outline grows with it (cheap, no mask processing)."""
        if self.area_value() != "masked":
            return
        size = self.canvas.image_size()
        pad = self.padding.value() + max(0, int(self.canvas.grow)) + int(self.canvas.feather * 2)
        box = (
            max(0, x0 - pad),
            max(0, y0 - pad),
            min(size.width(), x1 + pad),
            min(size.height(), y1 + pad),
        )
        old = self.canvas.crop_box()
        if old is not None:
            box = (
                min(old[0], box[0]),
                min(old[1], box[1]),
                max(old[2], box[2]),
                max(old[3], box[3]),
            )
        self.canvas.set_crop_box(box)

    # -- the request -----------------------------------------------------------------------
    def init_image(self) -> Image.Image:
        """The init image: the canvas image with the visible paint on it (sketch)."""
        return Image.fromarray(self.canvas.composite_array(), mode="RGB")

    def inpaint_fields(
        self, init: Image.Image, keep_unmasked: bool
    ) -> tuple[dict[str, Any], Image.Image]:
        """The inpaint fields of a request from the canvas, and the mask image to store."""
        from sd21_desktop.engine.inputs import content_hash

        raw = self.raw_mask()
        if not raw.any():
            raise InvalidRequestError(
                "mask_image",
                "The mask is empty: nothing to inpaint.",
                "Paint over the area to change on the Canvas tab (or tick Strokes are the mask).",
            )
        mask = Image.fromarray(raw, mode="L")
        fields: dict[str, Any] = {
            "mask_image": content_hash(mask),
            "mask_grow": int(self.canvas.grow),
            "mask_feather": float(self.canvas.feather),
            "keep_unmasked": keep_unmasked,
            "inpaint_area": self.area_value(),
            "mask_padding": self.padding.value(),
            "masked_content": str(self.content.currentData()),
        }
        if fields["inpaint_area"] == "masked":
            draft = GenerationRequest(
                prompt="",
                mask_grow=fields["mask_grow"],
                mask_feather=fields["mask_feather"],
                mask_padding=fields["mask_padding"],
            )
            box, (width, height) = region_for_images(init, mask, draft, self.native_size)
            fields.update(crop_box=box, width=width, height=height)
        return fields, mask
