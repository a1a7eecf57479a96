"""ControlNet units in AUTOMATIC1111's infotext: written as sd-webui-controlnet does, read back."""

from __future__ import annotations

from sd21_desktop.engine.control_units import ControlUnit
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.control_infotext import units_from_infotext
from sd21_desktop.gallery.importers.a1111 import from_infotext, parse_settings_line
from sd21_desktop.gallery.infotext import format_infotext

CANNY = "thibaud/controlnet-sd21-canny-diffusers"
UNITS = (
    ControlUnit(CANNY, "1" * 64, 0.8, 0.1, 0.9, preprocessor="canny"),
    ControlUnit("/home/me/models/my-scribble-cn", "2" * 64, 1.25, 0.0, 0.5),
)


def test_units_are_written_as_controlnet_n_fields() -> None:
    request = GenerationRequest(prompt="a fox", seed=3, controls=UNITS)
    settings = parse_settings_line(format_infotext(request, 3).splitlines()[-1])
    assert settings["ControlNet 0"] == (
        f"Module: canny, Model: {CANNY}, Weight: 0.8, Guidance Start: 0.1, Guidance End: 0.9, "
        f"Control Mode: Balanced, Image hash: {'1' * 64}"
    )
    assert "Model: my-scribble-cn," in settings["ControlNet 1"]  # a local path by its name only
    assert "/home/me" not in format_infotext(request, 3)


def test_our_units_round_trip_through_the_importer() -> None:
    hub_only = (UNITS[0], ControlUnit(CANNY, "3" * 64, 2.0, 0.25, 1.0, preprocessor="invert"))
    request = GenerationRequest(prompt="a fox", seed=3, controls=hub_only)
    imported = from_infotext(format_infotext(request, 3)).to_request()
    assert imported is not None
    assert imported.controls == hub_only


def test_guess_mode_is_controlnet_is_more_important() -> None:
    unit = ControlUnit(CANNY, "1" * 64, guess_mode=True)
    text = format_infotext(GenerationRequest(prompt="p", seed=1, controls=(unit,)), 1)
    assert "Control Mode: ControlNet is more important" in text
    imported = from_infotext(text).to_request()
    assert imported is not None
    assert imported.controls == (unit,)


def test_an_a1111_unit_imports_as_settings_without_an_image() -> None:
    text = (
        "a house\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5, Size: 512x512, "
        'ControlNet 1: "Module: invert (from white bg & black line), Model: control_v11p_sd15_'
        'lineart [43d4be0d], Weight: 0.5, Guidance Start: 0, Guidance End: 1", '
        'ControlNet 0: "Module: depth_midas, Model: control_v11f1p_sd15_depth [cfd03158], '
        "Weight: 0.65, Resize Mode: Crop and Resize, Low Vram: False, Processor Res: 512, "
        "Threshold A: 100, Threshold B: 200, Guidance Start: 0, Guidance End: 0.8, "
        'Pixel Perfect: True, Control Mode: ControlNet is more important"'
    )
    imported = from_infotext(text)
    units = units_from_infotext(imported.extra)
    assert units == [
        {
            "model": "control_v11f1p_sd15_depth [cfd03158]",
            "image": None,
            "weight": 0.65,
            "start": 0.0,
            "end": 0.8,
            "guess_mode": True,
            "preprocessor": "depth",
        },
        {
            "model": "control_v11p_sd15_lineart [43d4be0d]",
            "image": None,
            "weight": 0.5,
            "start": 0.0,
            "end": 1.0,
            "guess_mode": False,
            "preprocessor": "invert",
        },
    ]
    request = imported.to_request()
    assert request is not None
    assert request.controls == ()


def test_broken_unit_values_fall_back_to_defaults() -> None:
    extra = {
        "ControlNet 0": "Module: canny, Model: x/y, Weight: heavy, Guidance Start: 0.9, "
        "Guidance End: 0.2, Image hash: nothex"
    }
    (unit,) = units_from_infotext(extra)
    assert (unit["weight"], unit["start"], unit["end"], unit["image"]) == (1.0, 0.0, 1.0, None)


def test_a1111_hed_lineart_and_openpose_modules_map_to_ours() -> None:
    fields = {
        "softedge_hed": "hed", "hed": "hed", "lineart_realistic": "lineart",
        "lineart": "lineart", "openpose": "openpose", "openpose_full": "openpose",
        "softedge_pidinet": "none",
    }  # fmt: skip
    for module, ours in fields.items():
        (unit,) = units_from_infotext({"ControlNet 0": f"Module: {module}, Model: m, Weight: 1"})
        assert unit["preprocessor"] == ours, module
