"""The "Hires fix" group under the size: a checkable, collapsing box of the second pass's
settings (upscaler, scale, steps, denoise). Unchecked, it is folded to its title."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMargins
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QSpinBox,
    QWidget,
)

from sd21_desktop.engine.request import (
    DEFAULT_HIRES_DENOISE,
    DEFAULT_HIRES_UPSCALER_MODEL,
    MAX_HIRES_SCALE,
    MAX_STEPS,
    GenerationRequest,
)

UPSCALER_LABELS = (
    ("lanczos", "Lanczos (image)"),
    ("latent", "Latent (bilinear)"),
    ("x4", "SD2 x4 upscaler"),
)


class HiresGroup(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Hires fix", parent)
        self.setObjectName("hiresGroup")
        self.setCheckable(True)
        self.setChecked(False)
        self.setToolTip(
            "A second pass: the image enlarged, then img2img at the larger size (txt2img only; "
            "CLI: --hires-upscaler)"
        )
        self.body = QWidget(self)
        form = QFormLayout(self.body)
        form.setContentsMargins(0, 0, 0, 0)
        self.upscaler_model = DEFAULT_HIRES_UPSCALER_MODEL
        """The x4 upscaler a loaded request named (kept as it was, so it re-runs as itself)."""
        self.upscaler_combo = QComboBox()
        self.upscaler_combo.setObjectName("hiresUpscalerCombo")
        for value, label in UPSCALER_LABELS:
            self.upscaler_combo.addItem(label, value)
        self.scale_spin = QDoubleSpinBox(minimum=1.0, maximum=MAX_HIRES_SCALE, value=2.0)
        self.scale_spin.setSingleStep(0.25)
        self.scale_spin.setObjectName("hiresScaleSpin")
        self.steps_spin = QSpinBox(minimum=0, maximum=MAX_STEPS, value=0)
        self.steps_spin.setSpecialValueText("same")
        self.steps_spin.setObjectName("hiresStepsSpin")
        self.denoise_spin = QDoubleSpinBox(minimum=0.01, maximum=1.0, value=DEFAULT_HIRES_DENOISE)
        self.denoise_spin.setSingleStep(0.05)
        self.denoise_spin.setObjectName("hiresDenoiseSpin")
        for widget, tip in (
            (
                self.upscaler_combo,
                "How the first pass is enlarged: Lanczos on the image, "
                "bilinear on the latents, or the SD2 x4 upscaler (tiled; downloaded on first use) "
                "then Lanczos (CLI: --hires-upscaler)",
            ),
            (self.scale_spin, "The second pass's size, in times the first (CLI: --hires-scale)"),
            (
                self.steps_spin,
                "The second pass's steps; \"same\" = the first pass's (CLI: --hires-steps)",
            ),
            (
                self.denoise_spin,
                "How much of the enlarged image the second pass repaints (CLI: --hires-denoise)",
            ),
        ):
            widget.setToolTip(tip)
        form.addRow("Upscaler", self.upscaler_combo)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Denoise", self.denoise_spin)
        self._form = QFormLayout(self)
        self._form.addRow(self.body)
        self._margins = self._form.contentsMargins()
        self.toggled.connect(self._fold)
        self._fold(False)

    def _fold(self, open_: bool) -> None:
        """Off: only the check box and title (no empty frame); on: the settings."""
        self.body.setVisible(open_)
        self.setFlat(not open_)
        # Folded, the layout's margins alone left an empty box under the title.
        self._form.setContentsMargins(self._margins if open_ else QMargins(0, 0, 0, 0))
        self.setMaximumHeight(16_777_215 if open_ else self.sizeHint().height())

    def fields(self) -> dict[str, Any]:
        """The request fields (nothing when the hires fix is off)."""
        if not self.isChecked():
            return {}
        return {
            "hires_upscaler": str(self.upscaler_combo.currentData()),
            "hires_scale": round(self.scale_spin.value(), 2),
            "hires_steps": self.steps_spin.value(),
            "hires_denoise": round(self.denoise_spin.value(), 2),
            "hires_upscaler_model": self.upscaler_model,
        }

    def apply(self, request: GenerationRequest) -> None:
        """Show a stored request's hires settings (off when it had none)."""
        self.setChecked(request.hires_upscaler is not None)
        self.upscaler_model = request.hires_upscaler_model
        if request.hires_upscaler is None:
            return
        self.upscaler_combo.setCurrentIndex(
            max(self.upscaler_combo.findData(request.hires_upscaler), 0)
        )
        self.scale_spin.setValue(request.hires_scale)
        self.steps_spin.setValue(request.hires_steps)
        self.denoise_spin.setValue(request.hires_denoise)
