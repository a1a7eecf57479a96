"""Generate follows the canvas: the mode, the size and the model, and the Generate button says so.

The decisions are :mod:`sd21_desktop.ui.generate_plan`'s (plain values); this object only reads
the widgets, applies the plan to them, and disables Generate with the reason beside it when the
job would be bound to fail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QLabel

from sd21_desktop.engine.models import INPAINT_MODEL_ID
from sd21_desktop.engine.region import native_size_for
from sd21_desktop.ui.generate_plan import (
    CANVAS_MODES,
    KIND_MODES,
    CanvasState,
    ModeChoice,
    auto_mode,
    button_text,
    can_run,
    model_kind,
    problem,
    processing_size,
)

if TYPE_CHECKING:
    from sd21_desktop.ui.canvas_tab import CanvasTab
    from sd21_desktop.ui.main_window import MainWindow


class CanvasFlow(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.params = window.parameters
        self.choice = ModeChoice()
        self.typed: tuple[int, int] | None = None
        """A size the user chose for canvas modes (kept until reset)."""
        self.txt2img_size = (self.params.width_spin.value(), self.params.height_spin.value())
        self.problem: str | None = None
        self._params_valid = True
        self._applying = False
        self._picked_from: str | None = None  # the model before inpaint picked the inpaint model
        self.reason_label = QLabel("")
        self.reason_label.setObjectName("generateReasonLabel")
        self.reason_label.setWordWrap(True)
        self.reason_label.hide()
        params = self.params
        params.mode_combo.currentIndexChanged.connect(self._on_mode_chosen)
        params.model_changed.connect(self._on_model_chosen)
        params.width_spin.valueChanged.connect(self._on_size_edited)
        params.height_spin.valueChanged.connect(self._on_size_edited)
        params.validity_changed.connect(self._on_validity)
        params.native_size_changed.connect(self.refresh)
        params.size_reset_requested.connect(self.reset_size)
        self.choice.choose(params.mode())
        self.refresh()

    def attach(self, tab: CanvasTab) -> None:
        canvas, region = tab.canvas, tab.region
        canvas.image_changed.connect(self._on_new_picture)
        # after the region panel's own slots (connected first), so its crop box is current
        for signal in (
            canvas.mask_changed,
            canvas.mask_options_changed,
            canvas.paint_changed,
            region.area.currentIndexChanged,
            region.padding.valueChanged,
            region.sketch_mask.toggled,
        ):
            signal.connect(self._on_mask_changed)
        self._tab = tab

    def canvas_state(self) -> CanvasState:
        tab = self.window._canvas_tab
        if tab is None or not tab.canvas.has_image():
            return CanvasState()
        size = tab.canvas.image_size()
        sketch = tab.region.sketch_mask.isChecked() and tab.canvas.has_paint()
        box = tab.canvas.crop_box() if tab.region.area_value() == "masked" else None
        region = native_size_for(box, self.params.native_size) if box is not None else None
        return CanvasState((size.width(), size.height()), tab.has_mask() or sketch, region)

    # what the user and the canvas do --------------------------------------------------------
    @Slot()
    def _on_new_picture(self) -> None:
        self._sync_from_panel()
        self.choice.canvas_changed(self.canvas_state(), new_picture=True)
        self._apply()

    @Slot()
    def _on_mask_changed(self) -> None:
        self._sync_from_panel()
        self.choice.canvas_changed(self.canvas_state())
        self._apply()

    @Slot()
    def _on_mode_chosen(self) -> None:
        if not self._applying:
            self.choice.choose(self.params.mode())
            self._apply()

    def choose_mode(self, mode: str, *, after_next_picture: bool = False) -> None:
        """A mode chosen by the app (e.g. upscale from the gallery, once its picture is open)."""
        self.choice.choose(mode)
        if after_next_picture:
            self.choice.pending = mode
        self._apply()

    @Slot(str)
    def _on_model_chosen(self, model: str) -> None:
        """A model that cannot run the mode switches to a mode it can run on this canvas."""
        if self._applying or self.params.mode() != self.choice.mode:
            return  # ours, or the panel following a mode the user is choosing right now
        kind, canvas = model_kind(model), self.choice.canvas
        self._picked_from = None
        if not can_run(kind, self.choice.mode):
            only = KIND_MODES.get(kind, ())
            if self.choice.override is not None and can_run(kind, auto_mode(canvas)):
                self.choice.override = None
            elif len(only) == 1 and problem(only[0], kind, model, canvas) is None:
                self.choice.choose(only[0])
        self._apply()

    @Slot()
    def _on_size_edited(self) -> None:
        if self._applying:
            return
        size = (self.params.width_spin.value(), self.params.height_spin.value())
        if self.choice.mode in CANVAS_MODES:
            self.typed = size
        else:
            self.txt2img_size = size
        self.refresh()

    @Slot()
    def reset_size(self) -> None:
        self.typed = None
        self.refresh()

    @Slot(bool)
    def _on_validity(self, valid: bool) -> None:
        self._params_valid = valid
        self._show_problem()

    # applying the plan ----------------------------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Put the plan on the widgets (for others: a mode set on the panel is the user's)."""
        self._sync_from_panel()
        self._apply()

    def _sync_from_panel(self) -> None:
        """A mode set on the panel by anyone but us is a choice (the panel's own slots run
        before ours, and may re-enter through the model box)."""
        if not self._applying and self.params.mode() != self.choice.mode:
            self.choice.choose(self.params.mode())

    def _apply(self) -> None:
        """Put the plan on the widgets: mode, model, size, button text and the reason."""
        was_applying, self._applying = self._applying, True  # refresh can re-enter (models UI)
        try:
            mode = self.choice.mode
            if self.params.mode() != mode:
                self.params.set_mode(mode)
            self._follow_inpaint_model(mode)
            canvas = self.choice.canvas
            native = self.params.native_size
            if mode in CANVAS_MODES:
                size = processing_size(mode, canvas, native, self.typed)
            else:
                size = self.txt2img_size
            if mode != "upscale":
                self.params.set_size(*size)
            model = self.params.model()
            self.problem = problem(mode, model_kind(model), model, canvas)
            self._offer_models(mode)
            if not self.window.model_gate(model):
                self.window.generate_button.setText(button_text(mode, size, canvas))
        finally:
            self._applying = was_applying
        self.params.size_reset_button.setVisible(self.typed is not None and mode in CANVAS_MODES)
        self._show_problem()

    def _follow_inpaint_model(self, mode: str) -> None:
        """Inpaint picks the SD2 inpainting model when it is installed; leaving gives it back."""
        model = self.params.model()
        combo = self.params.model_combo
        if mode == "inpaint" and model_kind(model) == "txt2img":
            if self._installed(INPAINT_MODEL_ID):
                self._picked_from = model
                combo.setCurrentText(INPAINT_MODEL_ID)
        elif mode != "inpaint" and self._picked_from and model == INPAINT_MODEL_ID:
            combo.setCurrentText(self._picked_from)
            self._picked_from = None

    def _installed(self, repo_id: str) -> bool:
        """Whether the models UI's last scan found ``repo_id`` complete (unknown: not)."""
        manager = getattr(self.window.model_gate, "__self__", None)
        snapshot = getattr(manager, "snapshot", None)
        status = snapshot.hub.get(repo_id) if snapshot is not None else None
        return status is not None and status.state == "installed"

    def _offer_models(self, mode: str) -> None:
        """The model box offers only the models that can run the mode."""
        combo = self.params.model_combo
        items = combo.model()
        if not isinstance(items, QStandardItemModel):
            return
        text = combo.currentText()
        blocked = combo.blockSignals(True)  # an item's change re-reads the edit text from row 0
        try:
            for row in range(combo.count()):
                item = items.item(row)
                offered = can_run(model_kind(combo.itemText(row)), mode)
                if item is not None and item.isEnabled() != offered:
                    item.setEnabled(offered)
            if combo.currentText() != text:
                combo.setEditText(text)
        finally:
            combo.blockSignals(blocked)

    def _show_problem(self) -> None:
        self.window.generate_button.setEnabled(self._params_valid and self.problem is None)
        self.reason_label.setText(self.problem or "")
        self.reason_label.setVisible(self.problem is not None)
