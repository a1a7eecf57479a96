"""Asks how many variations to make around an image, and how far they may move (AUTOMATIC1111's
variation strength: 0 = the image itself, 1 = unrelated images)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from sd21_desktop.engine.request import GenerationRequest

DEFAULT_COUNT, DEFAULT_STRENGTH = 4, 0.1


class VariationsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Variations")
        self.count_spin = QSpinBox(minimum=1, maximum=64, value=DEFAULT_COUNT)
        self.count_spin.setObjectName("variationsCountSpin")
        self.strength_spin = QDoubleSpinBox(minimum=0.01, maximum=1.0, value=DEFAULT_STRENGTH)
        self.strength_spin.setSingleStep(0.05)
        self.strength_spin.setObjectName("variationsStrengthSpin")
        self.strength_spin.setToolTip("How far each variation moves from the image (0 to 1)")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Images", self.count_spin)
        form.addRow("Strength", self.strength_spin)
        form.addRow(buttons)

    def values(self) -> tuple[int, float]:
        return self.count_spin.value(), round(self.strength_spin.value(), 2)


def ask_for_variations(
    parent: QWidget, request: GenerationRequest, seed: int
) -> list[GenerationRequest]:
    """Ask how many variations and how far; the requests around the image ``request`` made with
    ``seed`` ([] when cancelled). Raises InvalidRequestError for a request that cannot vary."""
    from sd21_desktop.engine.variations import variation_requests

    dialog = VariationsDialog(parent)
    if not dialog.exec():
        return []
    count, strength = dialog.values()
    return variation_requests(request, seed, count, strength)
