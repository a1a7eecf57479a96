"""The "Grid" tab: the same X/Y/Z job as ``sd21-desktop grid``, built from the editor's settings.

The window queues one job per cell (:func:`sd21_desktop.engine.grid.grid_cells`, so the order
loads each model once); as each finishes its thumbnail is painted into the shown grid (labels
drawn once, only the new cell's box painted: a long grid costs the same per cell at its end as
at its start); clicking a cell opens it in the Result tab.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.grid import AXIS_KEYS, Axis, GridCanvas, parse_axis
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
        self.cells: dict[tuple[int, int, int], tuple[QImage, str]] = {}
        self._canvas: GridCanvas | None = None  # the labels and layout, made at the first cell
        self._pixmap = QPixmap()

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
        self._canvas, self._pixmap = None, QPixmap()
        self.image.clear()
        self.status.setText(f"0 of {len(jobs)} cells done")

    def cell_done(self, job_id: str, image: QImage, path: str) -> bool:
        """Show a finished cell if it belongs to the grid; False for other jobs."""
        position = self.jobs.get(job_id)
        if position is None:
            return False
        pixels = Image.fromarray(qimage_to_rgb_array(image))
        pixels.thumbnail((CELL_SIDE, CELL_SIDE))  # the GUI thread handles small cells only
        if self._canvas is None:
            self._canvas = GridCanvas(pixels.size, self.axes_)
            self._pixmap = QPixmap.fromImage(pil_to_qimage(self._canvas.image))
        self.cells[position] = (image, path)
        cell = self._canvas.layout.cell
        thumbnail = pixels.resize(cell) if pixels.size != cell else pixels
        painter = QPainter(self._pixmap)
        painter.drawImage(*self._canvas.layout.cell_box(*position), pil_to_qimage(thumbnail))
        painter.end()
        self.image.setPixmap(self._pixmap)
        self.status.setText(f"{len(self.cells)} of {len(self.jobs)} cells done")
        return True

    def _open_at(self, px: int, py: int) -> None:
        if self._canvas is None:
            return
        position = self._canvas.layout.cell_at(px, py)
        if position in self.cells:
            image, path = self.cells[position]
            self.open_requested.emit(image, path)
