"""`sd21-desktop grid`: X/Y/Z cells that each equal the single `generate`, the labelled grid
image, axis errors with status 2, and the order cells run in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.grid import GridLayout, compose_grid, grid_cells, parse_axis
from sd21_desktop.engine.request import GenerationRequest
from tests.test_cli import run_cli
from tests.test_cli_explore import expect_one_line_error


def test_a_2x2x2_grids_cells_each_equal_the_single_generate(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    base = ["--model", str(tiny_model_dir), "--data-dir", str(tmp_path / "data")]
    common = ["--prompt", "a red fox", "--width", "64", "--height", "64", "--scheduler", "ddim"]
    status, out, err = run_cli(
        *base, "grid", "--x", "seed=3,4", "--y", "steps=1,2", "--z", "prompt-sr=red,blue",
        *common, "--json",
    )  # fmt: skip
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    cells, grid = lines[:-1], lines[-1]
    assert len(cells) == 8
    assert {(c["x"], c["y"], c["z"]) for c in cells} == {
        (x, y, z) for x in ("3", "4") for y in ("1", "2") for z in ("red", "blue")
    }
    for cell in cells:
        prompt = "a red fox".replace("red", cell["z"])
        single_args = ["--seed", cell["x"], "--steps", cell["y"], "--no-gallery"]
        single_args += ["--out", str(tmp_path / "single"), "--json"]
        status, single, err = run_cli(
            *base, "generate", *[a if a != "a red fox" else prompt for a in common], *single_args
        )
        assert status == 0, err
        expected = Image.open(json.loads(single)["path"])
        assert np.array_equal(np.asarray(Image.open(cell["path"])), np.asarray(expected))
    picture = Image.open(grid["grid"])
    axes = [parse_axis(f, t) for f, t in (("--x", "seed=3,4"), ("--y", "steps=1,2"))]
    axes.append(parse_axis("--z", "prompt-sr=red,blue"))
    labels = [axis.labels for axis in axes]
    images = {
        tuple(labels[i].index(cell[k]) for i, k in enumerate("xyz")): Image.open(cell["path"])
        for cell in cells
    }  # the grid filled in cell by cell equals the grid composed at once from the cells' files
    assert np.array_equal(
        np.asarray(picture.convert("RGB")), np.asarray(compose_grid(images, axes))
    )  # type: ignore[arg-type]
    linked = json.loads(picture.text["sd21-grid"])  # type: ignore[attr-defined]
    assert sorted(linked["cells"].values()) == sorted(c["id"] for c in cells)
    assert [axis["key"] for axis in linked["axes"]] == ["seed", "steps", "prompt-sr"]


@pytest.mark.parametrize(
    ("axis", "expected"),
    [
        (["--x", "colour=1,2"], "unknown key 'colour'. Valid keys: seed, steps"),
        (["--x", "steps=10,lots"], "steps: 'lots' is not a whole number"),
        (["--x", "guidance=high"], "guidance: 'high' is not a number"),
        (["--x", "steps="], "the list of values is empty"),
        (["--x", "steps=1,,2"], "empty value"),
        (["--x", "steps"], "is not KEY=V1,V2"),
        (["--x", "steps=0,2"], "steps=0: Steps must be from 1"),
        (["--x", "scheduler=ddim,bogus"], "scheduler=bogus: Unknown scheduler"),
        (["--x", "prompt-sr=zebra,cat"], "'zebra' is not in the prompt"),
        (["--x", "seed=1", "--z", "steps=1"], "--z needs --y"),
    ],
)
def test_axis_errors_exit_2_with_one_clear_line(
    tiny_model_dir: Path, tmp_path: Path, axis: list[str], expected: str
) -> None:
    expect_one_line_error(tiny_model_dir, tmp_path, ["grid", *axis], expected)


def test_cells_run_grouped_by_model_then_scheduler() -> None:
    base = GenerationRequest(prompt="p", seed=1, model="a")
    axes = [
        parse_axis("--x", "model=a,b"),
        parse_axis("--y", "scheduler=ddim,euler"),
        parse_axis("--z", "seed=1,2"),
    ]
    order = [(c.request.model, c.request.scheduler) for c in grid_cells(base, axes)]
    assert (
        order
        == [("a", "ddim")] * 2 + [("a", "euler")] * 2 + [("b", "ddim")] * 2 + [("b", "euler")] * 2
    )


def test_grid_image_layout_has_label_rows_and_every_cell_in_its_box() -> None:
    axes = [parse_axis("--x", "steps=1,2"), parse_axis("--y", "seed=1,2,3"), None]
    colours = {(x, y, 0): (40 * x + 10, 60 * y + 20, 200) for x in range(2) for y in range(3)}
    images = {key: Image.new("RGB", (48, 32), colour) for key, colour in colours.items()}
    grid = compose_grid(images, axes)
    font_size = max(10, 48 // 12)
    label_height = int(font_size * 1.8)
    layout = GridLayout((48, 32), (2, 3, 1), label_height, grid.width - 2 * 48)
    assert layout.label_width > 0  # room for the y labels
    assert grid.size == layout.size == (layout.label_width + 96, 2 * label_height + 3 * 32)
    pixels = np.asarray(grid)
    for (x, y, z), colour in colours.items():
        left, top = layout.cell_box(x, y, z)
        assert (pixels[top : top + 32, left : left + 48] == colour).all()
    labels = pixels[: 2 * label_height, layout.label_width :]
    assert (labels < 128).any()  # the x labels are drawn in the rows above the cells
    assert (pixels[2 * label_height :, : layout.label_width] < 128).any()  # and the y labels


def test_a_z_axis_stacks_one_titled_block_per_value() -> None:
    axes = [
        parse_axis("--x", "steps=1"),
        parse_axis("--y", "seed=1"),
        parse_axis("--z", "guidance=1,2"),
    ]
    images = {(0, 0, z): Image.new("RGB", (40, 40), "red") for z in range(2)}
    grid = compose_grid(images, axes)
    block = 2 * int(10 * 1.8) + 40
    assert grid.height == 2 * block


def test_ctrl_c_stops_within_one_step_and_keeps_the_finished_cells(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.cli_common import StderrProgress
    from sd21_desktop.gallery.store import GalleryStore
    from sd21_desktop.paths import resolve_paths

    steps: list[int] = []
    original = StderrProgress.__call__

    def interrupt_in_the_second_cell(self: StderrProgress, info: object) -> None:
        steps.append(1)
        original(self, info)
        if len(steps) == 3:  # the first step of cell 2 (2 steps a cell)
            raise KeyboardInterrupt

    monkeypatch.setattr(StderrProgress, "__call__", interrupt_in_the_second_cell)
    data = tmp_path / "data"
    status, out, err = run_cli(
        "--model", str(tiny_model_dir), "--data-dir", str(data), "grid", "--prompt", "a fox",
        "--width", "64", "--height", "64", "--steps", "2", "--x", "seed=1,2,3",
    )  # fmt: skip
    assert status == 130
    assert "cancelled in cell 2 of 3; the 1 finished cells are saved" in err
    assert len(steps) == 3  # no step ran after the interrupt
    with GalleryStore(resolve_paths(data)) as store:
        assert store.count() == 1
    assert not (data / "grids").exists()
