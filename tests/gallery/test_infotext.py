"""Our AUTOMATIC1111 ``parameters`` text, read back by our own A1111 parser."""

from __future__ import annotations

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.importers import parse_infotext
from sd21_desktop.gallery.infotext import format_infotext

HASH = "a" * 64


def test_txt2img_infotext_round_trips_through_the_a1111_parser() -> None:
    request = GenerationRequest(
        prompt="a fox, in snow: at dusk",
        negative_prompt="blurry",
        seed=3,
        steps=30,
        guidance_scale=6.5,
        scheduler="euler_a",
        width=512,
        height=768,
    )
    parsed = parse_infotext(format_infotext(request, 3))
    assert parsed["prompt"] == "a fox, in snow: at dusk"
    assert parsed["negative_prompt"] == "blurry"
    assert parsed["Steps"] == "30"
    assert parsed["Sampler"] == "Euler a"
    assert parsed["CFG scale"] == "6.5"
    assert parsed["Size"] == "512x768"
    assert "Denoising strength" not in parsed


def test_inpaint_infotext_names_strength_and_mask_blur() -> None:
    request = GenerationRequest(
        prompt="x",
        seed=1,
        mode="inpaint",
        init_image=HASH,
        mask_image="b" * 64,
        strength=0.6,
        mask_feather=4,
    )
    parsed = parse_infotext(format_infotext(request, 1))
    assert parsed["Denoising strength"] == "0.6"
    assert parsed["Mask blur"] == "4"
