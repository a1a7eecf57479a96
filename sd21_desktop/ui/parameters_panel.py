"""Generation parameters: model, scheduler, steps, guidance, seed, size and batch.

Every value is checked as it changes, with the same validation as the request object, and the
problem is explained inline before the user clicks Generate.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QMenu,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.models import KNOWN_MODELS, identify, known_model, native_size_hint
from sd21_desktop.engine.request import (
    DEFAULT_MODEL,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_TILE_SIZE,
    MAX_BATCH_SIZE,
    MAX_GUIDANCE,
    MAX_NOISE_LEVEL,
    MAX_SIDE,
    MAX_STEPS,
    MAX_TILE_SIZE,
    MIN_SIDE,
    MIN_TILE_SIZE,
    GenerationRequest,
    random_seed,
)
from sd21_desktop.engine.schedulers import SCHEDULERS
from sd21_desktop.errors import InvalidRequestError, UserFacingError
from sd21_desktop.settings import AppSettings
from sd21_desktop.ui.hires_group import HiresGroup
from sd21_desktop.ui.icons import set_icon
from sd21_desktop.ui.parameter_widgets import (
    AspectLock,
    compact_form,
    labeled_double_slider,
    labeled_slider,
    muted,
    row,
    section,
    set_severity,
)
from sd21_desktop.ui.seed_box import SeedBox
from sd21_desktop.ui.widgets import tool_button

SEED_MODE_LABELS = {"random": "Random", "fixed": "Fixed", "reuse_last": "Reuse last"}
MODE_LABELS = {
    "txt2img": "Text to image",
    "img2img": "Image to image (canvas)",
    "inpaint": "Inpaint the mask (canvas)",
    "depth": "Depth to image (canvas)",
    "upscale": "Upscale ×4 (canvas)",
}
MODES_WITH_STRENGTH = ("img2img", "inpaint", "depth")
# The specialised SD2 checkpoint each mode runs on (inpaint falls back to masked img2img).
MODE_MODELS = {
    "depth": "sd2-community/stable-diffusion-2-depth",
    "upscale": "sd2-community/stable-diffusion-x4-upscaler",
}
SIZE_PRESETS = {
    768: [(768, 768), (768, 512), (512, 768), (1024, 576), (576, 1024)],
    512: [(512, 512), (512, 384), (384, 512), (640, 384), (384, 640)],
}


def identify_kind(model: str) -> str:
    """The kind of a known model id; a folder or file counts as txt2img here."""
    known = known_model(model)
    return known.kind if known is not None else "txt2img"


def _named(widget: QWidget, name: str, accessible: str) -> None:
    widget.setObjectName(name)
    widget.setAccessibleName(accessible)


class ParametersPanel(QWidget):
    validity_changed = Signal(bool)
    model_changed = Signal(str)
    models_requested = Signal()  # the Models window
    mode_changed = Signal(str)
    native_size_changed = Signal(int)
    size_reset_requested = Signal()  # the size follows the canvas picture again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.native_size = 768
        self.last_seed: int | None = None
        self._txt2img_model = DEFAULT_MODEL
        self._build_mode_controls()
        self._build_model_controls()
        self._build_sampling_controls()
        self._build_seed_controls()
        self._build_size_controls()
        self._build_batch_controls()
        self.validation_label = QLabel("")
        self.validation_label.setObjectName("validationLabel")
        self.validation_label.setWordWrap(True)
        self._lay_out()
        self._connect()
        self._on_seed_mode()
        self._on_mode()

    # building ----------------------------------------------------------------------------------
    def _build_mode_controls(self) -> None:
        self.mode_combo = QComboBox()
        _named(self.mode_combo, "modeCombo", "Mode")
        for mode, label in MODE_LABELS.items():
            self.mode_combo.addItem(label, mode)
        self.mode_combo.setToolTip(
            "What to make: from text, or from the image on the Canvas tab (CLI: --mode)"
        )
        self.strength_spin = labeled_double_slider(0.01, 1.0, 0.75, step=0.05, decimals=2)
        _named(self.strength_spin, "strengthSpin", "Strength")
        self.strength_spin.setToolTip(
            "How much to change the image: 0 keeps it, 1 replaces it (CLI: --strength)"
        )
        self.keep_unmasked_check = QCheckBox("Keep unmasked pixels exact")
        _named(self.keep_unmasked_check, "keepUnmaskedCheck", "Keep unmasked pixels exact")
        self.keep_unmasked_check.setChecked(True)
        self.keep_unmasked_check.setToolTip(
            "Paste the generated area back through the feathered mask, so the rest of the image "
            "stays pixel-identical, no colour shift (CLI: --keep-unmasked)"
        )
        self.noise_level_spin = labeled_slider(0, MAX_NOISE_LEVEL, 20)
        self.noise_level_spin.setToolTip(
            "Noise added to the small image: more invents more detail (CLI: --noise-level)"
        )
        _named(self.noise_level_spin, "noiseLevelSpin", "Noise level")
        self.tile_size_spin = QSpinBox(
            minimum=MIN_TILE_SIZE, maximum=MAX_TILE_SIZE, singleStep=8, value=DEFAULT_TILE_SIZE
        )
        self.tile_size_spin.setToolTip(
            "Input pixels per tile (×4 in the output); smaller tiles use less memory "
            "(CLI: --tile-size)"
        )
        _named(self.tile_size_spin, "tileSizeSpin", "Tile size")
        self.tile_overlap_spin = QSpinBox(
            minimum=0, maximum=MAX_TILE_SIZE // 2, singleStep=8, value=DEFAULT_TILE_OVERLAP
        )
        self.tile_overlap_spin.setToolTip(
            "How far neighbouring tiles overlap, blended (CLI: --tile-overlap)"
        )
        _named(self.tile_overlap_spin, "tileOverlapSpin", "Tile overlap")

    def _build_model_controls(self) -> None:
        self.model_combo = QComboBox()
        _named(self.model_combo, "modelCombo", "Model")
        self.model_combo.setEditable(True)
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(12)
        for model in KNOWN_MODELS:
            self.model_combo.addItem(model.repo_id, model.repo_id)
            self.model_combo.setItemData(
                self.model_combo.count() - 1, model.label, Qt.ItemDataRole.ToolTipRole
            )
        self.model_combo.setToolTip(
            "A hub id, a diffusers folder or a .safetensors file (CLI: --model)"
        )
        self.browse_button = tool_button("")
        self.browse_button.setObjectName("browseModelButton")
        set_icon(self.browse_button, "folder-open-outline", "Choose a model file or folder")
        self.browse_button.clicked.connect(self._browse_model)
        self.models_button = tool_button("Models…")
        self.models_button.setObjectName("modelsButton")
        self.models_button.setToolTip("Download, check and add models")
        self.models_button.clicked.connect(self.models_requested)

    def _build_sampling_controls(self) -> None:
        self.scheduler_combo = QComboBox()
        _named(self.scheduler_combo, "schedulerCombo", "Scheduler")
        for spec in SCHEDULERS:
            self.scheduler_combo.addItem(spec.label, spec.name)
        self.scheduler_combo.setToolTip("The sampler that walks the noise to the image "
                                        "(CLI: --scheduler)")
        self.steps_spin = labeled_slider(1, MAX_STEPS, 25)
        _named(self.steps_spin, "stepsSpin", "Steps")
        self.steps_spin.setToolTip("Denoising steps: more is slower, 20–50 is usual (CLI: --steps)")
        self.guidance_spin = labeled_double_slider(0.0, MAX_GUIDANCE, 7.5, step=0.5, decimals=1)
        _named(self.guidance_spin, "guidanceSpin", "Guidance scale")
        self.guidance_spin.setToolTip(
            "How closely to follow the prompt: 5–9 is usual, higher gets harsh (CLI: --guidance)"
        )

    def _build_seed_controls(self) -> None:
        self.seed_spin = SeedBox()  # 0 … 2^64 - 1 (a QSpinBox holds 32-bit signed ints only)
        _named(self.seed_spin, "seedSpin", "Seed")
        self.seed_spin.setToolTip("The seed used when the mode is Fixed (CLI: --seed)")
        self.seed_mode_combo = QComboBox()
        _named(self.seed_mode_combo, "seedModeCombo", "Seed mode")
        for mode, label in SEED_MODE_LABELS.items():
            self.seed_mode_combo.addItem(label, mode)
        self.seed_mode_combo.setToolTip(
            "Random: a new seed each time; Fixed: the seed in the box; Reuse last: the previous "
            "image's seed (CLI: --seed, random if left out)"
        )
        self.dice_button = tool_button("")
        self.dice_button.setObjectName("randomSeedButton")
        set_icon(self.dice_button, "dice-5-outline", "Pick a new random seed and fix it")
        self.dice_button.clicked.connect(self.roll_seed)
        self.recycle_button = tool_button("")
        self.recycle_button.setObjectName("reuseSeedButton")
        set_icon(self.recycle_button, "recycle", "Fix the last image's seed (none made yet)")
        self.recycle_button.setEnabled(False)
        self.recycle_button.clicked.connect(self.reuse_last_seed)
        self.last_seed_label = QLabel("")
        self.last_seed_label.setObjectName("lastSeedLabel")
        set_severity(self.last_seed_label, "muted")

    def _build_size_controls(self) -> None:
        self.width_spin = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, value=768, singleStep=8)
        _named(self.width_spin, "widthSpin", "Width")
        self.width_spin.setToolTip("Width in pixels, a multiple of 8 (CLI: --width)")
        self.height_spin = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, value=768, singleStep=8)
        _named(self.height_spin, "heightSpin", "Height")
        self.height_spin.setToolTip("Height in pixels, a multiple of 8 (CLI: --height)")
        self.aspect = AspectLock(self.width_spin, self.height_spin)
        self.aspect_button = self.aspect.button
        self.size_presets = tool_button("")
        self.size_presets.setObjectName("sizePresetsButton")
        set_icon(self.size_presets, "aspect-ratio", "Size presets for this model")
        self.size_presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.size_presets.setMenu(QMenu(self.size_presets))
        self.size_presets.menu().aboutToShow.connect(self._fill_presets)
        self.size_reset_button = tool_button("Fit picture")
        _named(self.size_reset_button, "sizeResetButton", "Size follows the canvas picture")
        self.size_reset_button.setToolTip("Forget the typed size: follow the picture's shape")
        self.size_reset_button.clicked.connect(self.size_reset_requested)
        self.size_reset_button.hide()

    def _build_batch_controls(self) -> None:
        self.batch_size_spin = QSpinBox(minimum=1, maximum=MAX_BATCH_SIZE, value=1)
        _named(self.batch_size_spin, "batchSizeSpin", "Batch size")
        self.batch_size_spin.setToolTip(
            "Images made together in one run (more memory) (CLI: --batch-size)"
        )
        self.batch_count_spin = QSpinBox(minimum=1, maximum=100, value=1)
        _named(self.batch_count_spin, "batchCountSpin", "Batch count")
        self.batch_count_spin.setToolTip(
            "Runs queued one after another, each with the next seed (GUI only)"
        )
        for spin in (self.batch_size_spin, self.batch_count_spin):  # small ranges hint too small
            spin.setMinimumWidth(spin.fontMetrics().horizontalAdvance("888") + 40)

    def _lay_out(self) -> None:
        form = QFormLayout()
        compact_form(form)
        self.form = form
        form.addRow("Mode", self.mode_combo)
        form.addRow(
            "Model", row(self.model_combo, self.browse_button, self.models_button, stretch=0)
        )
        form.addRow("Strength", self.strength_spin)
        form.addRow("", self.keep_unmasked_check)
        form.addRow("Noise", self.noise_level_spin)
        self._tiles_row = row(self.tile_size_spin, muted("overlap"), self.tile_overlap_spin)
        form.addRow("Tiles", self._tiles_row)
        form.addRow("Steps", self.steps_spin)
        form.addRow("Guidance", self.guidance_spin)
        form.addRow(
            "Seed",
            row(self.seed_mode_combo, self.seed_spin, self.dice_button, self.recycle_button,
                stretch=1),
        )
        form.addRow("", self.last_seed_label)
        form.setRowVisible(self.last_seed_label, False)  # until a seed has been used
        form.addRow(
            "Size",
            row(self.width_spin, muted("×"), self.height_spin, self.aspect_button,
                self.size_presets, self.size_reset_button),
        )
        self.hires_group = HiresGroup()
        form.addRow(self.hires_group)
        more = QFormLayout()
        compact_form(more)
        more.addRow("Sampler", self.scheduler_combo)
        more.addRow(
            "Batch", row(self.batch_size_spin, muted("images ×"), self.batch_count_spin,
                         muted("runs"))
        )
        self.sections = {"sampling": section("Sampler and batch", "samplingSection", more)}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(form)
        for collapsible in self.sections.values():
            layout.addWidget(collapsible)
        layout.addWidget(self.validation_label)

    def _connect(self) -> None:
        for spin in (
            self.steps_spin,
            self.seed_spin,
            self.width_spin,
            self.height_spin,
            self.batch_size_spin,
        ):
            spin.valueChanged.connect(self.revalidate)
        self.guidance_spin.valueChanged.connect(self.revalidate)
        hires = self.hires_group
        for signal in (hires.toggled, hires.scale_spin.valueChanged, hires.steps_spin.valueChanged):
            signal.connect(self.revalidate)
        hires.denoise_spin.valueChanged.connect(self.revalidate)
        self.model_combo.currentTextChanged.connect(self._on_model_text)
        self.seed_mode_combo.currentIndexChanged.connect(self._on_seed_mode)
        self.mode_combo.currentIndexChanged.connect(self._on_mode)

    # values ----------------------------------------------------------------------------------
    def model(self) -> str:
        return self.model_combo.currentText().strip()

    def mode(self) -> str:
        return str(self.mode_combo.currentData())

    def set_mode(self, mode: str) -> None:
        index = self.mode_combo.findData(mode)
        if index >= 0:
            self.mode_combo.setCurrentIndex(index)

    @Slot()
    def _on_mode(self) -> None:
        """Show only the controls the mode uses."""
        mode = self.mode()
        self.form.setRowVisible(self.strength_spin, mode in MODES_WITH_STRENGTH)
        self.form.setRowVisible(self.keep_unmasked_check, mode == "inpaint")
        self.form.setRowVisible(self.noise_level_spin, mode == "upscale")
        self.form.setRowVisible(self._tiles_row, mode == "upscale")
        self.form.setRowVisible(self.hires_group, mode == "txt2img")
        self._follow_mode_model(mode)
        self.mode_changed.emit(mode)

    def _follow_mode_model(self, mode: str) -> None:
        """Depth and upscale run on their own checkpoints: switch to it (and back after)."""
        current = self.model()
        if mode in MODE_MODELS:
            if current not in MODE_MODELS.values() and identify_kind(current) == "txt2img":
                self._txt2img_model = current
                self.model_combo.setCurrentText(MODE_MODELS[mode])
            elif current in MODE_MODELS.values():
                self.model_combo.setCurrentText(MODE_MODELS[mode])
        elif current in MODE_MODELS.values():
            self.model_combo.setCurrentText(self._txt2img_model)

    def seed_mode(self) -> str:
        return str(self.seed_mode_combo.currentData())

    def next_seed(self) -> int:
        mode = self.seed_mode()
        if mode == "fixed":
            return self.seed_spin.value()
        if mode == "reuse_last" and self.last_seed is not None:
            return self.last_seed
        return random_seed()

    def build_request(self, prompt: str, negative_prompt: str) -> GenerationRequest:
        """The request for the current values; raises InvalidRequestError if one is wrong."""
        return GenerationRequest(
            prompt=prompt,
            negative_prompt=negative_prompt,
            model=self.model(),
            seed=self.next_seed(),
            steps=self.steps_spin.value(),
            guidance_scale=round(self.guidance_spin.value(), 2),
            scheduler=str(self.scheduler_combo.currentData()),
            width=self.width_spin.value(),
            height=self.height_spin.value(),
            batch_size=self.batch_size_spin.value(),
            **(self.hires_group.fields() if self.mode() == "txt2img" else {}),
        )

    def note_used_seed(self, seed: int) -> None:
        self.last_seed = seed
        self.last_seed_label.setText(f"last seed: {seed}")
        self.form.setRowVisible(self.last_seed_label, True)
        self.recycle_button.setToolTip(f"Fix the last image's seed ({seed})")
        self.recycle_button.setEnabled(True)

    @Slot()
    def revalidate(self) -> bool:
        problems: list[str] = []
        try:
            self.build_request("validation", "")
        except InvalidRequestError as error:
            problems.append(str(error))
        if not self.model():
            problems.append("Choose a model.")
        width, height = self.width_spin.value(), self.height_spin.value()
        if not problems and max(width, height) > 2 * self.native_size:
            problems.append(
                f"Note: {width}×{height} is far above this model's {self.native_size}px; "
                "expect repeated subjects. (Generate still works.)"
            )
            set_severity(self.validation_label, "warning")
            self.validation_label.setText(problems[0])
            self.validity_changed.emit(True)
            return True
        set_severity(self.validation_label, "error")
        self.validation_label.setText("\n".join(problems))
        valid = not problems
        self.validity_changed.emit(valid)
        return valid

    # model and size ----------------------------------------------------------------------------
    def set_native_size(self, size: int) -> None:
        """Follow the model's size if the user kept the previous model's (text to image; a canvas
        picture's size follows the model through ``native_size_changed``)."""
        kept = (self.width_spin.value(), self.height_spin.value()) == (self.native_size,) * 2
        if kept and self.mode() == "txt2img":
            self.width_spin.setValue(size)
            self.height_spin.setValue(size)
        changed, self.native_size = size != self.native_size, size
        self.revalidate()
        if changed:
            self.native_size_changed.emit(size)

    @Slot(str)
    def _on_model_text(self, text: str) -> None:
        try:
            size = native_size_hint(identify(text)) if text.strip() else None
        except UserFacingError:
            size = None
        if size is not None:
            self.set_native_size(size)
        self.revalidate()
        self.model_changed.emit(text.strip())

    @Slot()
    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Choose a model",
            "",
            "Stable Diffusion 2 models (*.safetensors *.ckpt model_index.json);;All files (*)",
        )
        if path:
            if path.endswith("model_index.json"):
                path = path.rsplit("/", 1)[0]
            self.model_combo.setEditText(path)

    @Slot()
    def _fill_presets(self) -> None:
        menu = self.size_presets.menu()
        menu.clear()
        for width, height in SIZE_PRESETS.get(self.native_size, SIZE_PRESETS[512]):
            action = menu.addAction(f"{width} × {height}")
            action.triggered.connect(lambda _=False, w=width, h=height: self.set_size(w, h))

    def set_size(self, width: int, height: int) -> None:
        with self.aspect.suspended():
            self.width_spin.setValue(width)
            self.height_spin.setValue(height)

    @Slot()
    def roll_seed(self) -> None:
        """The dice: a new random seed, fixed so the next images use it."""
        self.seed_spin.setValue(random_seed() % (self.seed_spin.maximum() + 1))
        self.seed_mode_combo.setCurrentIndex(self.seed_mode_combo.findData("fixed"))

    @Slot()
    def reuse_last_seed(self) -> None:
        """The recycle button: fix the seed of the last image made."""
        if self.last_seed is None:
            return
        self.seed_spin.setValue(min(self.last_seed, self.seed_spin.maximum()))
        self.seed_mode_combo.setCurrentIndex(self.seed_mode_combo.findData("fixed"))

    @Slot()
    def _on_seed_mode(self) -> None:
        self.seed_spin.setEnabled(self.seed_mode() == "fixed")
        self.revalidate()

    # settings ----------------------------------------------------------------------------------
    def load_settings(self, settings: AppSettings) -> None:
        if self.model_combo.findText(settings.model) < 0:
            self.model_combo.addItem(settings.model, settings.model)
        self.model_combo.setCurrentText(settings.model)
        index = self.scheduler_combo.findData(settings.scheduler)
        self.scheduler_combo.setCurrentIndex(max(index, 0))
        self.steps_spin.setValue(settings.steps)
        self.guidance_spin.setValue(settings.guidance_scale)
        self.seed_spin.setValue(settings.seed)
        self.seed_mode_combo.setCurrentIndex(
            max(self.seed_mode_combo.findData(settings.seed_mode), 0)
        )
        self.width_spin.setValue(settings.width)
        self.height_spin.setValue(settings.height)
        self.batch_size_spin.setValue(settings.batch_size)
        self.batch_count_spin.setValue(settings.batch_count)
        self.revalidate()

    def store_settings(self, settings: AppSettings) -> None:
        settings.model = self.model()
        settings.scheduler = str(self.scheduler_combo.currentData())
        settings.steps = self.steps_spin.value()
        settings.guidance_scale = self.guidance_spin.value()
        settings.seed = self.seed_spin.value()
        settings.seed_mode = self.seed_mode()
        settings.width = self.width_spin.value()
        settings.height = self.height_spin.value()
        settings.batch_size = self.batch_size_spin.value()
        settings.batch_count = self.batch_count_spin.value()

    def apply_request(self, request: GenerationRequest) -> None:
        """Load a stored request's parameters (e.g. from the gallery) with a fixed seed."""
        if self.model_combo.findText(request.model) < 0:
            self.model_combo.addItem(request.model, request.model)
        self.model_combo.setCurrentText(request.model)
        self.scheduler_combo.setCurrentIndex(
            max(self.scheduler_combo.findData(request.scheduler), 0)
        )
        self.steps_spin.setValue(request.steps)
        self.guidance_spin.setValue(request.guidance_scale)
        self.seed_mode_combo.setCurrentIndex(self.seed_mode_combo.findData("fixed"))
        self.seed_spin.setValue(request.seed)
        self.set_size(request.width, request.height)
        self.batch_size_spin.setValue(request.batch_size)
        self.hires_group.apply(request)
