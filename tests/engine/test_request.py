from __future__ import annotations

import json

import pytest

from sd21_desktop.engine.request import MAX_SEED, SCHEMA_VERSION, GenerationRequest
from sd21_desktop.engine.schedulers import SCHEDULER_NAMES
from sd21_desktop.errors import InvalidRequestError


def make(**changes: object) -> GenerationRequest:
    values: dict[str, object] = {"prompt": "a lighthouse", "seed": 1}
    values.update(changes)
    return GenerationRequest(**values)  # type: ignore[arg-type]


def test_json_round_trip_keeps_every_field() -> None:
    request = make(
        negative_prompt="blurry",
        steps=30,
        guidance_scale=9.5,
        scheduler="euler_a",
        width=512,
        height=640,
        batch_size=3,
        prompt="üñí — 漢字",
    )
    again = GenerationRequest.from_json(request.to_json())
    assert again == request
    assert json.loads(request.to_json())["schema_version"] == SCHEMA_VERSION


def test_request_is_frozen() -> None:
    request = make()
    with pytest.raises(AttributeError):
        request.steps = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("width", 65, "multiple of 8"),
        ("width", 56, "from 64 to 2048"),
        ("height", 2056, "from 64 to 2048"),
        ("steps", 0, "Steps must be from 1 to 500"),
        ("steps", 501, "Steps must be from 1 to 500"),
        ("guidance_scale", 50.5, "Guidance must be from 0 to 50"),
        ("guidance_scale", -1, "Guidance must be from 0 to 50"),
        ("seed", -1, "seed must be from 0 to 4294967295"),
        ("seed", MAX_SEED + 1, "seed must be from 0 to 4294967295"),
        ("steps", 2.5, "whole number"),
        ("batch_size", 0, "Batch size"),
    ],
)
def test_invalid_values_explain_the_valid_range(field: str, value: object, expected: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make(**{field: value})
    assert caught.value.field == field
    assert expected.lower() in str(caught.value).lower()


def test_multiple_of_8_error_suggests_the_nearest_sizes() -> None:
    with pytest.raises(InvalidRequestError, match="Use 512 or 520"):
        make(height=515)


def test_unknown_scheduler_names_the_valid_ones() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make(scheduler="k_euler")
    for name in SCHEDULER_NAMES:
        assert name in str(caught.value)


def test_random_seed_is_drawn_and_recorded_when_none_given() -> None:
    seeds = {GenerationRequest(prompt="x").seed for _ in range(20)}
    assert len(seeds) > 1
    assert all(0 <= seed <= MAX_SEED for seed in seeds)


def test_batch_seeds_count_up_and_wrap() -> None:
    assert make(seed=10, batch_size=3).seeds() == [10, 11, 12]
    assert make(seed=MAX_SEED, batch_size=2).seeds() == [MAX_SEED, 0]


def test_newer_schema_and_unknown_fields_are_refused_clearly() -> None:
    data = make().to_dict()
    with pytest.raises(InvalidRequestError, match="newer than this app"):
        GenerationRequest.from_dict({**data, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(InvalidRequestError, match="unknown settings: sharpness"):
        GenerationRequest.from_dict({**data, "sharpness": 2})
    with pytest.raises(InvalidRequestError, match="not valid JSON"):
        GenerationRequest.from_json("{nope")
    with pytest.raises(InvalidRequestError, match="no prompt"):
        GenerationRequest.from_dict({"seed": 3})
