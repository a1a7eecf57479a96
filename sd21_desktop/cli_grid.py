"""``sd21-desktop grid``: an X/Y/Z grid of generations (see :mod:`sd21_desktop.engine.grid`).

Every cell is generated and saved exactly like ``generate`` (a gallery entry that re-runs as
itself); then the labelled grid image is saved beside them, its PNG naming the axes and the
cells' gallery ids (``sd21-grid`` text chunk). ``--json`` prints one object per cell (its x/y/z
values, id and path) as it finishes and one for the grid. Cells run grouped by model and
scheduler, so a model loads once; cancel (Ctrl+C) stops within one step, keeping finished cells.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sd21_desktop.cli_common import EXIT_CANCELLED, EXIT_OK, StderrProgress, merged
from sd21_desktop.errors import GenerationCancelled, UserFacingError

GRID_TEXT_KEY = "sd21-grid"


def _axes(args: argparse.Namespace) -> list[Any]:
    from sd21_desktop.engine.grid import parse_axis

    axes = [
        parse_axis(f"--{name}", getattr(args, name)) if getattr(args, name) else None
        for name in ("x", "y", "z")
    ]
    if axes[2] is not None and axes[1] is None:
        raise UserFacingError("--z needs --y.", "Give the axes in order: --x, then --y, then --z.")
    return axes


def run_grid(
    args: argparse.Namespace,
    stdout: TextIO,
    stderr: TextIO,
    prepare: Callable[..., tuple[Any, Any, Any, Path]],
    save: Callable[..., None],
) -> int:
    """``prepare`` and ``save`` are ``generate``'s own (handed in by :mod:`sd21_desktop.cli`,
    which this module must not import): the base request, engine and inputs; saving a result."""
    from sd21_desktop.engine.grid import GridCanvas, grid_cells

    def save_cell(result: Any) -> dict[str, Any]:
        captured = io.StringIO()  # generate's JSON line for the cell: its id and path
        save(result, Path("."), captured, stderr, as_json=True, args=args)
        return dict(json.loads(captured.getvalue().splitlines()[0]))

    axes = _axes(args)
    if args.batch_size != 1:
        raise UserFacingError("A grid makes one image per cell.", "Drop --batch-size.")
    base, engine, inputs, _ = prepare(args, stderr, lambda request: grid_cells(request, axes))
    cells = grid_cells(base, axes)  # every cell checked before the first one runs
    canvas: GridCanvas | None = None  # made at the first cell: the cells' size
    ids: dict[str, Any] = {}
    for number, cell in enumerate(cells, 1):
        progress = StderrProgress(stderr)
        print(f"cell {number}/{len(cells)}", file=stderr)
        try:
            result = engine.generate(cell.request, on_step=progress, inputs=inputs)
        except (GenerationCancelled, KeyboardInterrupt):
            print(
                f"cancelled in cell {number} of {len(cells)}; the {number - 1} finished cells "
                "are saved (no grid image).",
                file=stderr,
            )
            return EXIT_CANCELLED
        finally:
            progress.close()
        line = save_cell(result)
        canvas = canvas or GridCanvas(result.images[0].size, axes)
        canvas.paste(cell.position, result.images[0])
        ids[",".join(map(str, cell.position))] = line["id"]
        values = {
            name: axis.labels[index]
            for name, axis, index in zip("xyz", axes, cell.position, strict=True)
            if axis is not None
        }
        if args.json:
            record = {"cell": list(cell.position), **values, "id": line["id"], "path": line["path"]}
            print(json.dumps(record, ensure_ascii=False), file=stdout, flush=True)
    assert canvas is not None  # a grid has at least one cell
    path = _save_grid(canvas.image, axes, ids, args)
    if args.json:
        print(json.dumps({"grid": str(path), "cells": ids}), file=stdout, flush=True)
    else:
        print(f"saved grid {path}", file=stderr)
    return EXIT_OK


def _save_grid(image: Any, axes: list[Any], ids: dict[str, Any], args: argparse.Namespace) -> Path:
    """The grid PNG: in --out, else the data folder's ``grids`` folder (not the gallery's own
    folder, whose files are all generations)."""
    from PIL.PngImagePlugin import PngInfo

    from sd21_desktop.gallery.files import unique_path, write_atomic
    from sd21_desktop.paths import resolve_paths

    folder = (
        Path(args.out).expanduser()
        if args.out
        else resolve_paths(merged(args, "data_dir")).data_dir / "grids"
    )
    folder.mkdir(parents=True, exist_ok=True)
    info = PngInfo()
    described = [{"key": a.key, "values": list(a.labels)} if a else None for a in axes]
    info.add_text(GRID_TEXT_KEY, json.dumps({"axes": described, "cells": ids}))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info)
    path = unique_path(folder, "grid-" + datetime.now().strftime("%Y%m%d-%H%M%S"))
    write_atomic(path, buffer.getvalue())
    return path
