"""X/Y/Z grids: axes of settings, the request of every cell, the order cells run in, and the
labelled grid image (Pillow; the text is Pillow's bundled Aileron font, SIL OFL).

An axis is ``KEY=V1,V2,…``; a cell is one value of each axis applied to the base request, so it is
a normal request that re-runs exactly. ``prompt-sr`` is AUTOMATIC1111's "Prompt S/R": the first
value is the text to find in the prompt, each value (the first included) replaces it.
This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import InvalidRequestError, UserFacingError

_FIELDS: dict[str, tuple[str, type]] = {
    "seed": ("seed", int),
    "steps": ("steps", int),
    "guidance": ("guidance_scale", float),
    "scheduler": ("scheduler", str),
    "strength": ("strength", float),
    "hires-denoise": ("hires_denoise", float),
    "hires-steps": ("hires_steps", int),
    "variation-seed": ("variation_seed", int),
    "variation-strength": ("variation_strength", float),
    "model": ("model", str),
    "prompt-sr": ("prompt", str),
}
"""Axis key → (request field, value type)."""
AXIS_KEYS: tuple[str, ...] = tuple(_FIELDS)


@dataclass(frozen=True)
class Axis:
    key: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]


def parse_axis(flag: str, text: str) -> Axis:
    """``"steps=10,20"`` → an :class:`Axis`; a clear error for an unknown key, a bad value or an
    empty list."""
    key, equals, rest = text.partition("=")
    key = key.strip().lower()
    if not equals:
        raise UserFacingError(f"{flag} {text!r} is not KEY=V1,V2,….", f"E.g. {flag} steps=10,20.")
    if key not in _FIELDS:
        raise UserFacingError(
            f"{flag}: unknown key {key!r}.", f"Valid keys: {', '.join(AXIS_KEYS)}."
        )
    labels = tuple(part.strip() for part in rest.split(","))
    if not rest.strip() or any(not label for label in labels):
        raise UserFacingError(f"{flag} {key}: the list of values is empty or has an empty value.")
    kind = _FIELDS[key][1]
    values = []
    for label in labels:
        try:
            values.append(kind(label))
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise UserFacingError(f"{flag} {key}: {label!r} is not {what}.") from None
    return Axis(key, tuple(values), labels)


def apply(request: GenerationRequest, axis: Axis, index: int) -> GenerationRequest:
    """``request`` with the axis's ``index``-th value (validated: a bad value says which)."""
    name = _FIELDS[axis.key][0]
    value = axis.values[index]
    if axis.key == "prompt-sr":
        if axis.values[0] not in request.prompt:
            raise UserFacingError(f"prompt-sr: {axis.values[0]!r} is not in the prompt.")
        value = request.prompt.replace(axis.values[0], value)
    try:
        return request.replace(**{name: value})
    except InvalidRequestError as error:
        raise UserFacingError(f"{axis.key}={axis.labels[index]}: {error}") from error


@dataclass(frozen=True)
class Cell:
    position: tuple[int, int, int]
    """(x, y, z) indices."""
    request: GenerationRequest


def grid_cells(base: GenerationRequest, axes: Sequence[Axis | None]) -> list[Cell]:
    """Every cell's request, in the order to run them: grouped by model then scheduler (first
    appearance), so each model loads once; within a group in reading order (z, y, x)."""
    counts = [len(axis.values) if axis else 1 for axis in axes]
    cells = []
    for z in range(counts[2]):
        for y in range(counts[1]):
            for x in range(counts[0]):
                request = base
                for axis, index in zip(axes, (x, y, z), strict=True):
                    if axis is not None:
                        request = apply(request, axis, index)
                cells.append(Cell((x, y, z), request))
    models = list(dict.fromkeys(cell.request.model for cell in cells))
    schedulers = list(dict.fromkeys(cell.request.scheduler for cell in cells))
    return sorted(
        cells,
        key=lambda c: (models.index(c.request.model), schedulers.index(c.request.scheduler)),
    )


@dataclass(frozen=True)
class GridLayout:
    """Where everything goes on the grid image (pixels)."""

    cell: tuple[int, int]
    counts: tuple[int, int, int]
    label_height: int
    label_width: int

    @property
    def block_height(self) -> int:
        """One z slice: its title and x-label rows, then the cells."""
        return self.label_height * 2 + self.counts[1] * self.cell[1]

    @property
    def size(self) -> tuple[int, int]:
        return (
            self.label_width + self.counts[0] * self.cell[0],
            self.counts[2] * self.block_height,
        )

    def cell_box(self, x: int, y: int, z: int) -> tuple[int, int]:
        """The top-left corner of cell (x, y, z)."""
        top = z * self.block_height + self.label_height * 2 + y * self.cell[1]
        return self.label_width + x * self.cell[0], top

    def cell_at(self, px: int, py: int) -> tuple[int, int, int] | None:
        """The cell (x, y, z) under the pixel (px, py), or None over a label."""
        z, within = divmod(py, self.block_height)
        x, y = (px - self.label_width) // self.cell[0], within - self.label_height * 2
        if px < self.label_width or y < 0 or not (x < self.counts[0] and z < self.counts[2]):
            return None
        return x, y // self.cell[1], z


def label_font(cell_width: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(10, cell_width // 12))


def _label_texts(axes: Sequence[Axis | None]) -> list[list[str]]:
    return [[f"{a.key}: {label}" for label in a.labels] if a else [""] for a in axes]


def grid_layout(cell: tuple[int, int], axes: Sequence[Axis | None]) -> GridLayout:
    """The layout of a grid of ``cell``-sized images: label rows as tall as 1.8 x the font, the
    y-label column as wide as the widest y label (none without a y axis)."""
    counts = (*(len(axis.values) if axis else 1 for axis in axes),)
    font = label_font(cell[0])
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widest = max((measure.textlength(t, font=font) for t in _label_texts(axes)[1]), default=0)
    size = font.size if isinstance(font, ImageFont.FreeTypeFont) else 12
    label_width = int(widest) + size if axes[1] else 0
    return GridLayout(cell, counts, int(size * 1.8), label_width)  # type: ignore[arg-type]


class GridCanvas:
    """The grid image, labels drawn once, each cell pasted in as it finishes: O(1) work per
    cell and no copy of the finished cells kept (a long grid's memory stays flat)."""

    def __init__(self, cell: tuple[int, int], axes: Sequence[Axis | None]) -> None:
        self.layout = grid_layout(cell, axes)
        self.image = Image.new("RGB", self.layout.size, "white")
        draw = ImageDraw.Draw(self.image)
        _draw_labels(draw, self.layout, label_font(cell[0]), _label_texts(axes), axes)

    def paste(self, position: tuple[int, int, int], image: Image.Image) -> tuple[int, int]:
        """Put cell ``position``'s image in its box (resized to the cell size if it differs);
        returns the box's top-left corner."""
        cell = self.layout.cell
        corner = self.layout.cell_box(*position)
        self.image.paste(image.resize(cell) if image.size != cell else image, corner)
        return corner


def compose_grid(
    images: dict[tuple[int, int, int], Image.Image], axes: Sequence[Axis | None]
) -> Image.Image:
    """The grid: x labels above each column, y labels left of each row, a z title per slice."""
    canvas = GridCanvas(next(iter(images.values())).size, axes)
    for position, image in images.items():
        canvas.paste(position, image)
    return canvas.image


def _draw_labels(
    draw: ImageDraw.ImageDraw,
    layout: GridLayout,
    font: Any,
    text: list[list[str]],
    axes: Sequence[Axis | None],
) -> None:
    """Every label, whether or not its cells are in yet (the GUI composes a grid as it fills)."""
    width, height = layout.cell
    for z in range(layout.counts[2]):
        if axes[2]:
            title_y = z * layout.block_height + layout.label_height // 2
            draw.text((layout.size[0] // 2, title_y), text[2][z], "black", font, "mm")
        for x in range(layout.counts[0]):
            left, top = layout.cell_box(x, 0, z)
            middle = (left + width // 2, top - layout.label_height // 2)
            draw.text(middle, text[0][x], "black", font, "mm")
        for y in range(layout.counts[1] if axes[1] else 0):
            _, top = layout.cell_box(0, y, z)
            draw.text((layout.label_width // 2, top + height // 2), text[1][y], "black", font, "mm")
