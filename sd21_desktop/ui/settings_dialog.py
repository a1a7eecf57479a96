"""Settings: the theme, the device and memory options (device, dtype, attention,
acceleration, slicing, VAE tiling, CPU offload), and the engine (this machine or a Ray cluster)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from sd21_desktop.engine.device import (
    ACCELERATE_CHOICES,
    ATTENTION_CHOICES,
    DEVICE_CHOICES,
    DTYPE_CHOICES,
)
from sd21_desktop.ray_workers import INSTALL_HINT, ray_installed
from sd21_desktop.settings import THEMES, AppSettings

THEME_LABELS = {"system": "Follow the system (dark if it has no preference)", "dark": "Dark",
                "light": "Light"}
ENGINE_LABELS = {"local": "This machine", "ray": "Ray cluster (GPU workers elsewhere)"}


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
        self.accelerate_combo = _combo("accelerateCombo")
        self.accelerate_combo.addItems(list(ACCELERATE_CHOICES))
        self.accelerate_combo.setCurrentText(settings.accelerate)
        self.accelerate_combo.setToolTip(
            "none: plain PyTorch (the reference). openvino: faster on a CPU, within float "
            "noise of none. openvino-bf16: about twice as fast again on CPUs with bf16 units, "
            "but details of the image change. compile: torch.compile (for GPUs). auto: the "
            "fastest path that keeps the image within float noise of none here."
        )
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
        self.annotators_edit = QLineEdit(settings.annotators_dir)
        self.annotators_edit.setObjectName("annotatorsDirEdit")
        self.annotators_edit.setPlaceholderText("<data folder>/models/annotators")
        self.annotators_edit.setToolTip(
            "HED, line-art and OpenPose weights (lllyasviel/Annotators files) for ControlNet"
        )
        self._add_engine_widgets(settings)
        note = QLabel(
            "auto: CUDA, then Apple MPS, then CPU; float16 on CUDA, float32 elsewhere.\n"
            "Changing device or dtype reloads the model before the next job.\n"
            "Accelerate: the first image of each size is optimised once (about a minute on a "
            "CPU), then kept in the cache folder."
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
        form.addRow("Accelerate", self.accelerate_combo)
        for check in (
            self.slicing_check,
            self.vae_slicing_check,
            self.vae_tiling_check,
            self.offload_check,
        ):
            form.addRow(check)
        form.addRow("Engine", self.engine_combo)
        form.addRow("Ray address", self.ray_address_edit)
        form.addRow("Ray workers", self.ray_workers_spin)
        form.addRow(self.engine_note)
        form.addRow("Embeddings folder", self.embeddings_edit)
        form.addRow("LoRA folder", self.lora_edit)
        form.addRow("Annotators folder", self.annotators_edit)
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

    def _add_engine_widgets(self, settings: AppSettings) -> None:
        self.engine_combo = _combo("engineCombo")
        for kind, label in ENGINE_LABELS.items():
            self.engine_combo.addItem(label, kind)
        self.engine_combo.setCurrentIndex(max(self.engine_combo.findData(settings.engine), 0))
        self.engine_combo.setToolTip(
            "Where jobs run: this machine, or the actors of a Ray cluster; images always go "
            "into this machine's gallery (CLI: --engine)"
        )
        self.ray_address_edit = QLineEdit(settings.ray_address)
        self.ray_address_edit.setObjectName("rayAddressEdit")
        self.ray_address_edit.setPlaceholderText("$RAY_ADDRESS, else a local Ray on 127.0.0.1")
        self.ray_address_edit.setToolTip(
            "The head node, e.g. 192.168.1.20:6379 (CLI: --ray-address)"
        )
        self.ray_workers_spin = QSpinBox()
        self.ray_workers_spin.setObjectName("rayWorkersSpin")
        self.ray_workers_spin.setRange(0, 256)
        self.ray_workers_spin.setSpecialValueText("one per GPU")
        self.ray_workers_spin.setValue(max(settings.ray_workers, 0))
        self.ray_workers_spin.setToolTip(
            "How many actors: one per GPU of the cluster, or this many (CPU-only clusters) "
            "(CLI: --ray-workers)"
        )
        installed = ray_installed()
        self.engine_note = QLabel("" if installed else f"Ray is not installed. {INSTALL_HINT}")
        self.engine_note.setObjectName("engineNote")
        self.engine_note.setWordWrap(True)
        self.engine_note.setVisible(not installed)
        self.engine_combo.currentIndexChanged.connect(self._engine_changed)
        self._engine_changed()

    def _engine_changed(self) -> None:
        remote = self.engine_combo.currentData() == "ray"
        self.ray_address_edit.setEnabled(remote)
        self.ray_workers_spin.setEnabled(remote)

    def apply_to(self, settings: AppSettings) -> None:
        settings.theme = str(self.theme_combo.currentData())
        settings.device = self.device_combo.currentText()
        settings.dtype = self.dtype_combo.currentText()
        settings.attention = self.attention_combo.currentText()
        settings.accelerate = self.accelerate_combo.currentText()
        settings.attention_slicing = self.slicing_check.isChecked()
        settings.vae_slicing = self.vae_slicing_check.isChecked()
        settings.vae_tiling = self.vae_tiling_check.isChecked()
        settings.cpu_offload = self.offload_check.isChecked()
        settings.embeddings_dir = self.embeddings_edit.text().strip()
        settings.lora_dir = self.lora_edit.text().strip()
        settings.annotators_dir = self.annotators_edit.text().strip()
        settings.engine = str(self.engine_combo.currentData())
        settings.ray_address = self.ray_address_edit.text().strip()
        settings.ray_workers = self.ray_workers_spin.value()
