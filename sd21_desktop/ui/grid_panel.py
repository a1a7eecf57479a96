"""The "Grid" tab: the same X/Y/Z job as ``sd21-desktop grid``, built from the editor's settings.

The window queues one job per cell (:func:`sd21_desktop.engine.grid.grid_cells`, so the order
loads each model once); as each finishes the grid is composed again from the images in memory
and shown; clicking a cell opens it in the Result tab.
"""

from __future__ import annotations

from typing import Any

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.grid import AXIS_KEYS, Axis, compose_grid, grid_layout, parse_axis
from sd21_desktop.errors import UserFacingError
from sd21_desktop.qt.images import pil_to_qimage, qimage_to_rgb_array

CELL_SIDE = 256
"""Cells are shown at most this large (a 10 x 20 grid of 768 px images would be 350 MB)."""


class _GridImage(QLabel):
    clicked_at = Signal(int, int)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        point = event.position().toPoint()
        self.clicked_at.emit(point.x(), point.y())


class GridPanel(QWidget):
    run_requested = Signal()
    open_requested = Signal(QImage, str)  # a cell's image and path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edits: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for name, example in (("x", "seed=1,2,3"), ("y", "steps=20,30"), ("z", "")):
            edit = QLineEdit()
            edit.setObjectName(f"grid{name.upper()}Edit")
            edit.setPlaceholderText(f"KEY=V1,V2,… e.g. {example}" if example else "optional")
            edit.setToolTip("Keys: " + ", ".join(AXIS_KEYS))
            form.addRow(f"{name.upper()} axis", edit)
            self.edits[name] = edit
        self.run_button = QPushButton("Run grid")
        self.run_button.setObjectName("gridRunButton")
        self.run_button.clicked.connect(self.run_requested.emit)
        self.status = QLabel("Cells use the editor's prompt and settings, one image each.")
        self.image = _GridImage()
        self.image.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.image.clicked_at.connect(self._open_at)
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.run_button)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        self.axes_: list[Axis | None] = [None, None, None]
        self.jobs: dict[str, tuple[int, int, int]] = {}
        self.cells: dict[tuple[int, int, int], tuple[QImage, str, Image.Image]] = {}

    def axes(self) -> list[Axis | None]:
        """The axes typed in; raises UserFacingError with what is wrong."""
        axes = [
            parse_axis(f"{name.upper()} axis", text) if (text := edit.text().strip()) else None
            for name, edit in self.edits.items()
        ]
        if axes[0] is None:
            raise UserFacingError("A grid needs an X axis.", "Type e.g. seed=1,2,3.")
        if axes[2] is not None and axes[1] is None:
            raise UserFacingError("A Z axis needs a Y axis.")
        return axes

    def start(self, axes: list[Axis | None], jobs: dict[str, tuple[int, int, int]]) -> None:
        self.axes_, self.jobs, self.cells = axes, dict(jobs), {}
        self.image.clear()
        self.status.setText(f"0 of {len(jobs)} cells done")

    def cell_done(self, job_id: str, image: QImage, path: str) -> bool:
        """Show a finished cell if it belongs to the grid; False for other jobs."""
        position = self.jobs.get(job_id)
        if position is None:
            return False
        pixels = Image.fromarray(qimage_to_rgb_array(image))
        pixels.thumbnail((CELL_SIDE, CELL_SIDE))  # the GUI thread composes small cells only
        self.cells[position] = (image, path, pixels)
        grid = compose_grid({key: cell[2] for key, cell in self.cells.items()}, self.axes_)
        self.image.setPixmap(QPixmap.fromImage(pil_to_qimage(grid)))
        self.status.setText(f"{len(self.cells)} of {len(self.jobs)} cells done")
        return True

    def _open_at(self, px: int, py: int) -> None:
        if not self.cells:
            return
        first: Any = next(iter(self.cells.values()))[2]
        position = grid_layout(first.size, self.axes_).cell_at(px, py)
        if position in self.cells:
            image, path, _ = self.cells[position]
            self.open_requested.emit(image, path)
