"""``generate --control MODEL:IMAGE[:weight[:start[:end]]]`` and ``--control-preprocess``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.cli import main
from sd21_desktop.cli_control import parse_control
from sd21_desktop.engine.annotators import unavailable
from sd21_desktop.engine.control_preprocess import canny_edges, preprocess
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.errors import UserFacingError
from tests.annotator_fixtures import needs_controlnet_aux


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _photo(path: Path) -> Path:
    rng = np.random.default_rng(0)
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[16:48, 20:44] = 220
    Image.fromarray(np.clip(pixels + rng.normal(0, 4, pixels.shape), 0, 255).astype(np.uint8)).save(
        path
    )
    return path


def test_parse_control_takes_numbers_from_the_right() -> None:
    assert parse_control("owner/cn:edges.png").numbers == ()
    spec = parse_control("owner/cn:C:\\pics\\edges.png:0.5:0.1:0.9")
    assert (spec.model, spec.image_path, spec.numbers) == (
        "owner/cn",
        "C:\\pics\\edges.png",
        (0.5, 0.1, 0.9),
    )
    with pytest.raises(UserFacingError, match="'heavy' is not a number"):
        parse_control("owner/cn:edges.png:heavy")


def test_generate_with_a_canny_unit_stores_the_edges_and_re_runs_identical(
    tiny_model_dir: Path, tiny_controlnet_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    photo = _photo(tmp_path / "photo.png")
    status, out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tiny_model_dir), "--width", "64",
        "--height", "64", "--steps", "3", "--seed", "5", "--out", str(tmp_path / "out"), "--json",
        "--control", f"{tiny_controlnet_dir}:{photo}:0.7:0:0.8", "--control-preprocess", "canny",
    )  # fmt: skip
    assert status == 0, err
    line = json.loads(out)
    with Image.open(line["path"]) as image:
        request = GenerationRequest.from_dict(json.loads(image.text["sd21-desktop"])["request"])
        assert 'ControlNet 0: "Module: canny' in image.text["parameters"]
        saved = np.asarray(image.convert("RGB"))
    (unit,) = request.controls
    assert (unit.weight, unit.start, unit.end, unit.preprocessor) == (0.7, 0.0, 0.8, "canny")
    inputs = InputImages(data_dir / "inputs")
    edges = canny_edges(Image.open(photo))
    assert np.array_equal(np.asarray(inputs.get(unit.image)), np.asarray(edges))
    again = Engine().generate(request, inputs=inputs).images[0]
    assert np.array_equal(np.asarray(again), saved)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--control", "onlymodel"], "names no model and image"),
        (["--control", "owner/cn:missing.png"], "missing.png"),
        (["--control-preprocess", "canny"], "--control-preprocess needs --control"),
        (["--control", "owner/cn:{photo}:3"], "control weight must be from 0 to 2"),
        (["--control", "owner/cn:{photo}:1:0.8:0.2"], "0 <= start < end <= 1"),
        (["--control", "owner/cn:{photo}"] * 4, "At most 3 control units"),
        (["--control", "owner/cn:{photo}", "--control-preprocess", "blur"], "invalid choice"),
        (["--control", "owner/cn:{photo}", "--mode", "upscale", "--init-image", "{photo}"],
         "ControlNet units apply to txt2img, img2img, inpaint, not upscale"),
    ],
)  # fmt: skip
def test_bad_control_input_exits_2_with_one_clear_line(
    tiny_model_dir: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    photo = _photo(tmp_path / "photo.png")
    argv = [arg.replace("{photo}", str(photo)) for arg in args]
    status, out, err = run_cli("generate", "--prompt", "x", "--model", str(tiny_model_dir), *argv)
    assert status == 2
    assert expected in err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert out == ""


def test_an_sd15_width_controlnet_exits_2_before_any_step(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from sd21_desktop.engine.synthetic_controlnet import save_synthetic_controlnet

    misfit = save_synthetic_controlnet(tmp_path / "cn15", tiny_model_dir, cross_attention_dim=48)
    photo = _photo(tmp_path / "photo.png")
    status, _out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tiny_model_dir), "--width", "64",
        "--height", "64", "--steps", "2", "--control", f"{misfit}:{photo}",
    )  # fmt: skip
    assert status == 2
    assert "cross-attention width 48" in err
    assert "step" not in err.split("error:")[0]  # no progress was drawn


@needs_controlnet_aux
def test_generate_with_hed_from_the_annotators_folder(
    tiny_model_dir: Path,
    tiny_controlnet_dir: Path,
    tmp_path: Path,
    data_dir: Path,
    annotator_weights: Path,
    empty_hub_cache: Path,
) -> None:
    folder = data_dir / "models" / "annotators"  # the default, without --annotators-dir
    folder.mkdir(parents=True)
    (folder / "ControlNetHED.pth").symlink_to(annotator_weights / "ControlNetHED.pth")
    photo = _photo(tmp_path / "photo.png")
    status, out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tiny_model_dir), "--width", "64",
        "--height", "64", "--steps", "2", "--out", str(tmp_path / "out"), "--json",
        "--control", f"{tiny_controlnet_dir}:{photo}", "--control-preprocess", "hed",
    )  # fmt: skip
    assert status == 0, err
    with Image.open(json.loads(out)["path"]) as image:
        request = GenerationRequest.from_dict(json.loads(image.text["sd21-desktop"])["request"])
        assert 'ControlNet 0: "Module: hed' in image.text["parameters"]
    (unit,) = request.controls
    expected = preprocess("hed", Image.open(photo), annotators=annotator_weights)
    stored = InputImages(data_dir / "inputs").get(unit.image)
    assert np.array_equal(np.asarray(stored), np.asarray(expected))


@pytest.mark.parametrize("name", ["hed", "lineart", "openpose"])
def test_a_preprocessor_without_its_weights_exits_2_saying_where_they_go(
    name: str, tiny_model_dir: Path, tmp_path: Path, empty_hub_cache: Path
) -> None:
    photo = _photo(tmp_path / "photo.png")
    folder = tmp_path / "my-annotators"
    status, out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tiny_model_dir), "--annotators-dir",
        str(folder), "--control", f"owner/cn:{photo}", "--control-preprocess", name,
    )  # fmt: skip
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "Traceback" not in err
    reason = unavailable(name, folder)
    assert reason is not None
    assert reason in err
    assert "not installed" in reason or str(folder) in reason
