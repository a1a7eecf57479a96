"""Settings: the theme, and the device and memory options (device, dtype, attention, slicing,
VAE tiling, CPU offload)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from sd21_desktop.engine.device import ATTENTION_CHOICES, DEVICE_CHOICES, DTYPE_CHOICES
from sd21_desktop.settings import THEMES, AppSettings

THEME_LABELS = {"system": "Follow the system (dark if it has no preference)", "dark": "Dark",
                "light": "Light"}


def _check(text: str, name: str) -> QCheckBox:
    check = QCheckBox(text)
    check.setObjectName(name)
    check.setAccessibleName(text)
    return check


def _combo(name: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    return combo


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.theme_combo = _combo("themeCombo")
        for theme in THEMES:
            self.theme_combo.addItem(THEME_LABELS[theme], theme)
        self.theme_combo.setCurrentIndex(max(self.theme_combo.findData(settings.theme), 0))
        self.theme_combo.setToolTip("The window's colours; applied when you press OK")
        self.device_combo = _combo("deviceCombo")
        self.device_combo.addItems(list(DEVICE_CHOICES))
        self.device_combo.setCurrentText(settings.device)
        self.dtype_combo = _combo("dtypeCombo")
        self.dtype_combo.addItems(list(DTYPE_CHOICES))
        self.dtype_combo.setCurrentText(settings.dtype)
        self.attention_combo = _combo("attentionCombo")
        self.attention_combo.addItems(list(ATTENTION_CHOICES))
        self.attention_combo.setCurrentText(settings.attention)
        self.slicing_check = _check(
            "Attention slicing (less memory, slower)", "attentionSlicingCheck"
        )
        self.slicing_check.setChecked(settings.attention_slicing)
        self.vae_slicing_check = _check(
            "VAE slicing (decode a batch one image at a time)", "vaeSlicingCheck"
        )
        self.vae_slicing_check.setChecked(settings.vae_slicing)
        self.vae_tiling_check = _check(
            "VAE tiling (decode large images in tiles)", "vaeTilingCheck"
        )
        self.vae_tiling_check.setChecked(settings.vae_tiling)
        self.offload_check = _check(
            "CPU offload (keep idle parts in RAM; CUDA only)", "cpuOffloadCheck"
        )
        self.offload_check.setChecked(settings.cpu_offload)
        self.embeddings_edit = QLineEdit(settings.embeddings_dir)
        self.embeddings_edit.setObjectName("embeddingsDirEdit")
        self.embeddings_edit.setPlaceholderText("<data folder>/models/embeddings")
        self.lora_edit = QLineEdit(settings.lora_dir)
        self.lora_edit.setObjectName("loraDirEdit")
        self.lora_edit.setPlaceholderText("<data folder>/models/lora")
        note = QLabel(
            "auto: CUDA, then Apple MPS, then CPU; float16 on CUDA, float32 elsewhere.\n"
            "Changing device or dtype reloads the model before the next job."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Theme", self.theme_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.dtype_combo)
        form.addRow("Attention", self.attention_combo)
        for check in (
            self.slicing_check,
            self.vae_slicing_check,
            self.vae_tiling_check,
            self.offload_check,
        ):
            form.addRow(check)
        form.addRow("Embeddings folder", self.embeddings_edit)
        form.addRow("LoRA folder", self.lora_edit)
        for widget, tip in (
            (self.device_combo, "Where the model runs: auto picks CUDA, then MPS, then CPU "
             "(CLI: --device)"),
            (self.dtype_combo, "Number precision: float16 halves memory on a GPU (CLI: --dtype)"),
            (self.attention_combo, "The attention kernel (CLI: --attention)"),
            (self.slicing_check, "Compute attention in slices: less memory, slower "
             "(CLI: --attention-slicing)"),
            (self.vae_slicing_check, "Decode a batch one image at a time (CLI: --vae-slicing)"),
            (self.vae_tiling_check, "Decode large images in tiles (CLI: --vae-tiling)"),
            (self.offload_check, "Keep idle model parts in RAM; CUDA only (CLI: --cpu-offload)"),
        ):
            widget.setToolTip(tip)
        form.addRow(note)
        form.addRow(buttons)

    def apply_to(self, settings: AppSettings) -> None:
        settings.theme = str(self.theme_combo.currentData())
        settings.device = self.device_combo.currentText()
        settings.dtype = self.dtype_combo.currentText()
        settings.attention = self.attention_combo.currentText()
        settings.attention_slicing = self.slicing_check.isChecked()
        settings.vae_slicing = self.vae_slicing_check.isChecked()
        settings.vae_tiling = self.vae_tiling_check.isChecked()
        settings.cpu_offload = self.offload_check.isChecked()
        settings.embeddings_dir = self.embeddings_edit.text().strip()
        settings.lora_dir = self.lora_edit.text().strip()
