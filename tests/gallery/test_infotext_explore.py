"""Hires fix and variation seeds in AUTOMATIC1111's infotext: written, and imported back."""

from __future__ import annotations

from typing import Any

import pytest

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.importers import parse_infotext
from sd21_desktop.gallery.importers.a1111 import from_infotext
from sd21_desktop.gallery.infotext import format_infotext

EXPLORED: list[dict[str, Any]] = [
    {"hires_upscaler": "latent", "hires_scale": 2.0, "hires_denoise": 0.7},
    {"hires_upscaler": "lanczos", "hires_scale": 1.5, "hires_steps": 12, "hires_denoise": 0.45},
    {"hires_upscaler": "lanczos", "hires_width": 1024, "hires_height": 768},
    {"variation_seed": 123456789, "variation_strength": 0.25},
    {"hires_upscaler": "latent", "variation_seed": 7, "variation_strength": 1.0},
    {"hires_upscaler": "x4", "hires_scale": 2.0, "hires_steps": 10, "hires_denoise": 0.3},
]


@pytest.mark.parametrize("changes", EXPLORED)
def test_exploration_settings_round_trip_through_the_importer(changes: dict[str, Any]) -> None:
    request = GenerationRequest(prompt="a castle", seed=42, steps=20, width=512, height=512)
    request = request.replace(**changes)
    imported = from_infotext(format_infotext(request, 42)).to_request()
    assert imported is not None
    names = [
        "hires_upscaler",
        "hires_scale",
        "hires_width",
        "hires_height",
        "hires_steps",
        "hires_denoise",
        "variation_seed",
        "variation_strength",
        "seed",
        "steps",
        "width",
        "height",
    ]
    assert {n: getattr(imported, n) for n in names} == {n: getattr(request, n) for n in names}


def test_the_infotext_uses_a1111s_names_and_formats() -> None:
    request = GenerationRequest(
        prompt="p",
        seed=1,
        width=512,
        height=512,
        hires_upscaler="latent",
        hires_scale=2.0,
        hires_steps=10,
        hires_denoise=0.7,
        variation_seed=99,
        variation_strength=0.3,
    )
    parsed = parse_infotext(format_infotext(request, 1))
    assert parsed["Size"] == "512x512"  # the first pass, as A1111 writes it
    assert parsed["Hires upscale"] == "2"
    assert parsed["Hires steps"] == "10"
    assert parsed["Hires upscaler"] == "Latent"
    assert parsed["Denoising strength"] == "0.7"
    assert parsed["Variation seed"] == "99"
    assert parsed["Variation seed strength"] == "0.3"
    x4 = parse_infotext(format_infotext(request.replace(hires_upscaler="x4"), 1))
    assert x4["Hires upscaler"] == "SD2 x4"  # our name (A1111 has no SD2 x4), read back as x4
    plain = parse_infotext(format_infotext(GenerationRequest(prompt="p", seed=1), 1))
    assert not {k for k in plain if k.startswith(("Hires", "Variation", "Denoising"))}


def test_a1111_images_with_other_upscalers_import_as_the_nearest_we_have() -> None:
    text = (
        "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, "
        "Denoising strength: 0.4, Hires upscale: 2, Hires upscaler: R-ESRGAN 4x+, "
        "Variation seed: 8, Variation seed strength: 0"
    )
    request = from_infotext(text).to_request()
    assert request is not None
    assert (request.hires_upscaler, request.hires_scale, request.hires_denoise) == (
        "lanczos",
        2.0,
        0.4,
    )
    assert request.variation_strength == 0.0  # strength 0: A1111 used the plain seed
    latent = from_infotext(text.replace("R-ESRGAN 4x+", "Latent (antialiased)")).to_request()
    assert latent is not None
    assert latent.hires_upscaler == "latent"


def test_settings_beyond_our_limits_import_without_them() -> None:
    text = (
        "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 1536x1536, "
        "Denoising strength: 0.4, Hires upscale: 2, Hires upscaler: Latent"
    )
    request = from_infotext(text).to_request()
    assert request is not None
    assert request.hires_upscaler is None
    assert (request.width, request.seed) == (1536, 5)
