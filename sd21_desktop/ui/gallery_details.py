"""The gallery's detail pane: the selected image, every parameter it was made with, and actions."""

from __future__ import annotations

import contextlib
import html
import json

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.models import KNOWN_MODELS
from sd21_desktop.gallery.entries import GalleryEntry

NEEDS_REQUEST = ("rerun", "rerun_new_seed", "variations", "load")
"""Actions that need the image's settings."""
ACTIONS = (
    ("rerun", "Re-run exactly", "galleryRerunButton"),
    ("rerun_new_seed", "New seed", "galleryRerunNewSeedButton"),
    ("variations", "Variations…", "galleryVariationsButton"),
    ("load", "Load parameters", "galleryLoadButton"),
    ("canvas", "Send to canvas", "gallerySendToCanvasButton"),
    ("favourite", "★ Favourite", "galleryFavouriteButton"),
    ("delete", "Delete", "galleryDeleteButton"),
    ("reveal", "Show in folder", "galleryRevealButton"),
)


class _ImageLoaded(QObject):
    done = Signal(int, QImage)


class _LoadImage(QRunnable):
    def __init__(self, entry: GalleryEntry, relay: _ImageLoaded) -> None:
        super().__init__()
        self.entry, self.relay = entry, relay

    def run(self) -> None:
        image = QImage(str(self.entry.path))
        with contextlib.suppress(RuntimeError):
            self.relay.done.emit(self.entry.id, image)


def _model_rows(entry: GalleryEntry, model: str) -> list[tuple[str, str]]:
    """A generated image names its model; an imported one the model that made it, next to the
    one a re-run uses, and the note that says how sure that choice is."""
    if entry.origin == "generated":
        return [("Model", model)]
    rows = [("Made with", str(entry.model or "(not recorded)")), ("Runs with", model)]
    note = entry.details.get("model_note")
    return [*rows, ("Model note", str(note))] if note else rows


def describe(entry: GalleryEntry) -> str:
    """The parameters as HTML: what a person needs to see to trust a re-run."""
    rows: list[tuple[str, str]] = []
    request = entry.request
    if request is not None:
        rows += [("Mode", request.mode), *_model_rows(entry, request.model)]
        rows += [
            ("Seed", str(entry.seed if entry.seed is not None else request.seed)),
            ("Steps", str(request.steps)),
            ("Guidance", f"{request.guidance_scale:g}"),
            ("Scheduler", request.scheduler),
            ("Size", f"{request.width}×{request.height}"),
        ]
        if request.batch_size > 1:
            rows.append(("Batch", f"image {entry.batch_index + 1} of {request.batch_size}"))
    else:
        rows += [("Size", f"{entry.width}×{entry.height}")]
        if entry.seed is not None:
            rows.append(("Seed", str(entry.seed)))
        for key, value in entry.details.items():
            rows.append((key.replace("_", " ").capitalize(), str(value)))
    if entry.origin == "imported" and entry.model and request is None:
        rows.append(("Made with", str(entry.model)))
    origin = entry.origin if entry.source is None else f"{entry.origin} from {entry.source}"
    rows.append(("Origin", origin + ("" if entry.has_metadata else " (no readable metadata)")))
    if entry.runtime.get("device"):
        rows.append(("Ran on", f"{entry.runtime.get('device')} · {entry.runtime.get('dtype')}"))
    if entry.runtime.get("accelerate") not in (None, "none"):
        rows.append(("Accelerated with", str(entry.runtime["accelerate"])))
    rows.append(("File", str(entry.path)))
    table = "".join(
        f"<tr><td><b>{html.escape(key)}</b></td><td>{html.escape(value)}</td></tr>"
        for key, value in rows
    )
    prompt = html.escape(entry.prompt or "(no prompt)")
    negative = html.escape(entry.negative_prompt)
    negative_html = f"<p><b>Negative:</b> {negative}</p>" if negative else ""
    return f"<p>{prompt}</p>{negative_html}<table cellspacing='4'>{table}</table>"


def rerun_model_choices(current: str) -> list[tuple[str, str]]:
    """(label, model) of the txt2img models an imported entry may re-run with; ``current``
    (a local file, another hub id) stays among them."""
    choices = [
        (model.label.replace("Stable Diffusion ", "SD "), model.repo_id)
        for model in KNOWN_MODELS
        if model.kind == "txt2img"
    ]
    if current not in {model for _, model in choices}:
        choices.insert(0, (current, current))
    return choices


class GalleryDetails(QWidget):
    action_triggered = Signal(str)
    model_chosen = Signal(str)  # the model the shown imported entry should re-run with

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("galleryDetails")
        self.entry: GalleryEntry | None = None
        self.image_label = QLabel("Select an image")
        self.image_label.setObjectName("galleryDetailImage")
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label.setMinimumSize(200, 200)
        self.image_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.text = QTextBrowser()
        self.text.setObjectName("galleryDetailText")
        self.text.setAccessibleName("Image parameters")
        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        for position, (name, label, object_name) in enumerate(ACTIONS):
            button = QPushButton(label)
            button.setObjectName(object_name)
            button.setAccessibleName(label)
            button.clicked.connect(lambda _=False, n=name: self.action_triggered.emit(n))
            grid.addWidget(button, position // 2, position % 2)
            self.buttons[name] = button
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("galleryRerunModelCombo")
        self.model_combo.setAccessibleName("Model this imported image re-runs with")
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_row = QWidget()
        model_layout = QHBoxLayout(self.model_row)
        model_layout.setContentsMargins(0, 0, 0, 0)
        model_layout.addWidget(QLabel("Re-run with"))
        model_layout.addWidget(self.model_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.image_label, 3)
        layout.addWidget(self.text, 2)
        layout.addWidget(self.model_row)
        layout.addLayout(grid)
        self._image = QImage()
        self._relay = _ImageLoaded(self)
        self._relay.done.connect(self._on_image)
        self.show_entry(None)

    def show_entry(self, entry: GalleryEntry | None) -> None:
        self.entry = entry
        for name, button in self.buttons.items():
            button.setEnabled(
                entry is not None
                and (entry.request is not None or name not in NEEDS_REQUEST)
            )
        if entry is None:
            self._show_model_choice(None)
            self.image_label.setText("Select an image")
            self.image_label.setPixmap(QPixmap())
            self.text.setHtml("")
            return
        self.buttons["favourite"].setText("★ Unfavourite" if entry.favourite else "☆ Favourite")
        # An image from another tool re-runs with its settings on an SD2 model, not "exactly".
        exact = entry.origin == "generated"
        self.buttons["rerun"].setText("Re-run exactly" if exact else "Run with these settings")
        self.buttons["delete"].setText("Restore" if entry.deleted else "Delete")
        self.text.setHtml(describe(entry))
        self._show_model_choice(entry)
        QThreadPool.globalInstance().start(_LoadImage(entry, self._relay))

    def _show_model_choice(self, entry: GalleryEntry | None) -> None:
        """Imported entries only: a generated image's model is certain and re-runs exactly."""
        request = entry.request if entry is not None else None
        shown = entry is not None and request is not None and entry.origin == "imported"
        self.model_row.setVisible(shown)
        if not shown or request is None:
            return
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for label, model in rerun_model_choices(request.model):
            self.model_combo.addItem(label, model)
        self.model_combo.setCurrentIndex(max(self.model_combo.findData(request.model), 0))
        self.model_combo.blockSignals(False)

    @Slot(int)
    def _on_model_activated(self, index: int) -> None:
        model = self.model_combo.itemData(index)
        entry = self.entry
        if entry is not None and entry.request is not None and model != entry.request.model:
            self.model_chosen.emit(str(model))

    @Slot(int, QImage)
    def _on_image(self, entry_id: int, image: QImage) -> None:
        if self.entry is None or entry_id != self.entry.id:
            return
        self._image = image
        self._show_scaled()

    def _show_scaled(self) -> None:
        if self._image.isNull():
            self.image_label.setText("The image file cannot be read.")
            return
        size = self.image_label.size()
        self.image_label.setPixmap(
            QPixmap.fromImage(self._image).scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        super().resizeEvent(event)  # type: ignore[arg-type]
        if self.entry is not None and not self._image.isNull():
            self._show_scaled()

    @Slot()
    def copy_image(self) -> None:
        if not self._image.isNull():
            QGuiApplication.clipboard().setImage(self._image)

    @Slot()
    def copy_prompt(self) -> None:
        if self.entry is not None:
            QGuiApplication.clipboard().setText(self.entry.prompt)

    @Slot()
    def copy_seed(self) -> None:
        if self.entry is not None and self.entry.seed is not None:
            QGuiApplication.clipboard().setText(str(self.entry.seed))

    def request_json(self) -> str:
        if self.entry is None or self.entry.request is None:
            return ""
        return json.dumps(self.entry.request.to_dict(), indent=2)
