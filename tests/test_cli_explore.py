"""`generate` with the hires fix and variation seeds: the options, their errors, the saved PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.runner import Engine
from sd21_desktop.gallery.importers import parse_infotext
from sd21_desktop.gallery.metadata import read_record
from tests.test_cli import run_cli


def test_generate_with_hires_and_variation_saves_the_request_and_a1111_infotext(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    status, out, err = run_cli(
        "--model", str(tiny_model_dir), "--data-dir", str(tmp_path / "data"), "generate",
        "--prompt", "a harbour", "--seed", "8", "--steps", "2", "--width", "64", "--height", "64",
        "--hires-upscaler", "latent", "--hires-scale", "1.5", "--hires-steps", "4",
        "--hires-denoise", "0.5", "--variation-seed", "99", "--variation-strength", "0.4",
        "--json",
    )  # fmt: skip
    assert status == 0, err
    line = json.loads(out)
    saved = Image.open(line["path"])
    assert saved.size == (96, 96)
    record = read_record(line["path"])
    assert record is not None
    request = record.request
    assert (request.hires_upscaler, request.hires_scale, request.hires_steps) == ("latent", 1.5, 4)
    assert (request.variation_seed, request.variation_strength) == (99, 0.4)
    infotext = parse_infotext(saved.text["parameters"])  # type: ignore[attr-defined]
    assert infotext["Hires upscaler"] == "Latent"
    assert infotext["Variation seed strength"] == "0.4"
    again = Engine().generate(request)  # the saved request re-runs to the same pixels
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(saved.convert("RGB")))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--hires-scale", "2"], "need --hires-upscaler"),
        (["--hires-upscaler-model", "my-x4"], "need --hires-upscaler"),
        (["--hires-upscaler", "x8"], "invalid choice: 'x8'"),
        (["--hires-upscaler", "lanczos", "--hires-denoise", "0"], "Hires denoise must be above 0"),
        (["--hires-upscaler", "lanczos", "--hires-scale", "9"], "hires scale must be from 1 to 4"),
        (["--variation-strength", "0.5"], "needs --variation-seed"),
        (["--variation-seed", "1", "--variation-strength", "2"], "from 0 to 1"),
    ],
)
def test_bad_hires_and_variation_options_exit_2_with_one_line(
    tiny_model_dir: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    expect_one_line_error(tiny_model_dir, tmp_path, ["generate", *args], expected)


def test_hires_x4_options_name_the_upscaler_by_its_absolute_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.cli_common import build_parser, explore_fields

    (tmp_path / "my-x4").mkdir()
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["generate", "--prompt", "p", "--hires-upscaler", "x4", "--hires-upscaler-model", "my-x4"]
    )
    fields = explore_fields(args)  # a relative folder would not re-run from another folder
    assert fields == {"hires_upscaler": "x4", "hires_upscaler_model": str(tmp_path / "my-x4")}
    hub = build_parser().parse_args(["generate", "--prompt", "p", "--hires-upscaler", "x4"])
    assert explore_fields(hub) == {"hires_upscaler": "x4"}  # the request's default upscaler


def expect_one_line_error(model: Path, data: Path, command: list[str], expected: str) -> None:
    """``command`` (with a prompt and a 64 px size) exits 2 with one line holding ``expected``."""
    status, out, err = run_cli(
        "--model", str(model), "--data-dir", str(data), command[0], "--prompt", "a fox",
        "--width", "64", "--height", "64", *command[1:],
    )  # fmt: skip
    assert status == 2
    assert expected in err
    assert err.count("\n") == 1
    assert out == ""
