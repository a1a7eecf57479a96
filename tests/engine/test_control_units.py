"""Control units in the request (schema 8): JSON round trip, old requests, clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from sd21_desktop.engine.control_units import ControlUnit
from sd21_desktop.engine.request import SCHEMA_VERSION, GenerationRequest
from sd21_desktop.errors import InvalidRequestError

IMAGE = "a" * 64
UNIT = {"model": "thibaud/controlnet-sd21-canny-diffusers", "image": IMAGE}


def test_units_round_trip_through_json_and_name_their_image() -> None:
    unit = ControlUnit(UNIT["model"], IMAGE, 0.5, 0.2, 0.8, True, "canny")
    request = GenerationRequest(prompt="p", seed=1, controls=(unit, unit))
    again = GenerationRequest.from_json(request.to_json())
    assert again == request
    assert again.controls[0] == unit
    assert request.to_dict()["controls"][0]["weight"] == 0.5
    assert request.input_hashes() == (IMAGE,)


@pytest.mark.parametrize("version", [6, 7])
def test_an_older_request_loads_without_units(version: int) -> None:
    assert SCHEMA_VERSION == 8
    old = GenerationRequest.from_dict({"prompt": "p", "seed": 1, "schema_version": version})
    assert old.controls == ()
    assert old.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"weight": 2.5}, "weight must be from 0 to 2"),
        ({"start": 0.6, "end": 0.4}, "0 <= start < end <= 1"),
        ({"image": "photo.png"}, "id of a stored input image"),
        ({"model": " "}, "names no ControlNet model"),
        ({"preprocessor": "segment"}, "Unknown preprocessor 'segment'"),
        ({"colour": 1}, "needs model and image"),
    ],
)
def test_bad_units_are_explained(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        GenerationRequest.from_dict({"prompt": "p", "controls": [{**UNIT, **changes}]})


def test_unit_count_guess_mode_and_mode_are_checked() -> None:
    with pytest.raises(InvalidRequestError, match="At most 3 control units"):
        GenerationRequest(prompt="p", controls=[UNIT] * 4)
    with pytest.raises(InvalidRequestError, match="Guess mode is on for some"):
        GenerationRequest(prompt="p", controls=[UNIT, {**UNIT, "guess_mode": True}])
    with pytest.raises(InvalidRequestError, match="apply to txt2img, img2img, inpaint, not depth"):
        GenerationRequest(prompt="p", mode="depth", init_image=IMAGE, controls=[UNIT])


def test_the_json_text_is_what_dataclasses_asdict_gives() -> None:
    """to_json walks the fields itself (asdict's deep copy was slow); the text must not change."""
    import json
    from dataclasses import asdict

    unit = ControlUnit(UNIT["model"], IMAGE, 0.5, 0.2, 0.8, True, "canny")
    request = GenerationRequest(
        prompt="a fox ünïcode", seed=2**63 + 5, controls=(unit,),
        loras=(("ink", "b" * 64),), embeddings=(("style", "c" * 64),),
    )  # fmt: skip
    assert request.to_json() == json.dumps(asdict(request), ensure_ascii=False, sort_keys=True)
    assert GenerationRequest.from_json(request.to_json()) == request
