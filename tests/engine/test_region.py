"""Inpaint area "masked": the crop box, the crop the pipeline gets, parity, exact paste-back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.masks import effective_mask, paste_through_mask
from sd21_desktop.engine.recipes import plan_for
from sd21_desktop.engine.region import (
    CropToMask,
    PasteIntoImage,
    default_area,
    native_size_for,
    padded_box,
    plan_region,
    widen_to_aspect,
)
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.errors import UserFacingError
from tests.engine.test_img2img import box_mask, picture, reference, request_for


def mask_array(width: int, height: int, box: tuple[int, int, int, int]) -> np.ndarray:
    return np.asarray(box_mask(width, height, box))


# -- the crop box ---------------------------------------------------------------------------


def test_the_box_is_the_mask_bbox_padded_and_clamped_at_the_edges() -> None:
    assert padded_box(mask_array(200, 100, (50, 40, 60, 50)), 8) == (42, 32, 68, 58)
    assert padded_box(mask_array(200, 100, (0, 0, 10, 10)), 32) == (0, 0, 42, 42)
    assert padded_box(mask_array(200, 100, (190, 90, 200, 100)), 32) == (158, 58, 200, 100)


def test_a_mask_touching_all_four_sides_gives_the_whole_image() -> None:
    mask = np.zeros((100, 200), dtype=np.uint8)
    mask[0, 50] = mask[99, 60] = mask[40, 0] = mask[30, 199] = 255
    assert padded_box(mask, 0) == (0, 0, 200, 100)
    assert plan_region(mask, 32, 512)[0] == (0, 0, 200, 100)


def test_a_one_pixel_mask_gets_its_padding_and_a_native_size() -> None:
    mask = mask_array(300, 300, (150, 150, 151, 151))
    box, size = plan_region(mask, 32, 768)
    assert box == (118, 118, 183, 183)
    assert size == (768, 768)


def test_an_empty_mask_is_refused_clearly() -> None:
    with pytest.raises(UserFacingError, match="The mask is empty"):
        padded_box(np.zeros((64, 64), dtype=np.uint8), 32)


def test_widening_to_an_aspect_ratio_centres_then_shifts_inside_the_image() -> None:
    # 40x40 box, 2:1 target: 80 wide, centred.
    assert widen_to_aspect((100, 100, 140, 140), (2, 1), (400, 400)) == (80, 100, 160, 140)
    # Near the left edge: shifted right so it stays inside.
    assert widen_to_aspect((0, 100, 40, 140), (2, 1), (400, 400)) == (0, 100, 80, 140)
    # Near the right edge: shifted left.
    assert widen_to_aspect((370, 0, 400, 60), (1, 1), (400, 400)) == (340, 0, 400, 60)
    # Flat box, 1:2 target: taller, cut at the image when it cannot fit.
    assert widen_to_aspect((0, 10, 100, 30), (1, 2), (400, 120)) == (0, 0, 100, 120)


def test_explicit_sizes_widen_the_box_and_automatic_sizes_follow_it() -> None:
    mask = mask_array(1000, 1000, (500, 500, 600, 520))  # 100x20
    box, size = plan_region(mask, 10, 768, 512, 512)
    assert size == (512, 512)
    assert (box[2] - box[0], box[3] - box[1]) == (120, 120)
    box, size = plan_region(mask, 10, 768)
    assert box == (490, 490, 610, 530)  # 120x40: 3:1
    assert size[0] % 8 == 0
    assert size[1] % 8 == 0
    assert abs(size[0] / size[1] - 3) < 0.1
    assert abs(size[0] * size[1] - 768 * 768) < 0.05 * 768 * 768
    assert native_size_for((0, 0, 64, 64), 512) == (512, 512)


def test_the_default_area_is_masked_only_above_the_native_size() -> None:
    assert default_area((768, 512), 768) == "whole"
    assert default_area((1536, 1024), 768) == "masked"


def test_masked_area_is_a_recipe_of_stages() -> None:
    request = GenerationRequest(
        prompt="x",
        mode="inpaint",
        init_image="a" * 64,
        mask_image="b" * 64,
        inpaint_area="masked",
    )
    stages = plan_for(request).stages
    assert isinstance(stages[0], CropToMask)
    assert isinstance(stages[-1], PasteIntoImage)
    assert [s.name for s in stages] == ["crop to mask", "condition", "denoise", "paste back"]


# -- the engine -----------------------------------------------------------------------------


def spy_calls(engine: Engine, model: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    pipeline = engine.load(str(model)).pipeline_for("inpaint")
    calls: list[dict[str, Any]] = []
    original = type(pipeline).__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(pipeline), "__call__", spy)
    return calls


def test_masked_area_equals_diffusers_on_the_resized_crop_pasted_back(
    engine: Engine,
    store: InputImages,
    tiny_inpaint_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image, mask = picture(240, 160, seed=3), box_mask(240, 160, (150, 40, 174, 70))
    request = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        inpaint_area="masked",
        mask_padding=8,
        mask_feather=2.0,
        width=64,
        height=64,
    )
    calls = spy_calls(engine, tiny_inpaint_model_dir, monkeypatch)
    result = engine.generate(request, inputs=store)

    effective = effective_mask(np.asarray(mask), 0, 2.0)
    box = widen_to_aspect(padded_box(effective, 8), (64, 64), (240, 160))
    assert result.request.crop_box == box
    x0, y0, x1, y1 = box
    crop = image.crop(box).resize((64, 64), Image.Resampling.LANCZOS)
    crop_mask = Image.fromarray(effective[y0:y1, x0:x1], "L").resize(
        (64, 64), Image.Resampling.BILINEAR
    )
    assert len(calls) == 1
    assert np.array_equal(np.asarray(calls[0]["image"]), np.asarray(crop))
    assert np.array_equal(np.asarray(calls[0]["mask_image"]), np.asarray(crop_mask))

    generated = reference(
        "StableDiffusionInpaintPipeline",
        tiny_inpaint_model_dir,
        "ddim",
        [42],
        image=crop,
        mask_image=crop_mask,
        strength=0.8,
        num_inference_steps=4,
        guidance_scale=6.0,
        width=64,
        height=64,
    )[0]
    back = np.asarray(
        Image.fromarray(generated).resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
    )
    expected = np.array(image)
    expected[y0:y1, x0:x1] = paste_through_mask(
        expected[y0:y1, x0:x1], back, effective[y0:y1, x0:x1]
    )
    got = np.asarray(result.images[0])
    assert got.shape == (160, 240, 3)
    assert np.array_equal(got, expected)
    outside = effective == 0
    assert np.array_equal(got[outside], np.asarray(image)[outside])

    again = engine.generate(result.request, inputs=store)
    assert again.request == result.request
    assert np.array_equal(np.asarray(again.images[0]), got)


def test_a_stored_crop_box_outside_the_image_is_refused_clearly(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    image, mask = picture(96, 96), box_mask(96, 96, (40, 40, 50, 50))
    request = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        inpaint_area="masked",
        crop_box=(0, 0, 200, 96),
    )
    with pytest.raises(UserFacingError, match="reaches outside"):
        engine.generate(request, inputs=store)


def test_an_empty_mask_in_masked_area_fails_before_the_model_loads(
    store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    engine = Engine()
    request = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(picture(96, 96)),
        mask_image=store.put(Image.new("L", (96, 96))),
        inpaint_area="masked",
    )
    with pytest.raises(UserFacingError, match="The mask is empty"):
        engine.generate(request, inputs=store)
    assert engine.cache.loads == 0


def test_without_keep_unmasked_the_whole_box_is_pasted_and_nothing_outside_it(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    image, mask = picture(160, 96, seed=4), box_mask(160, 96, (0, 40, 12, 52))  # at the edge
    request = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        inpaint_area="masked",
        mask_padding=4,
        keep_unmasked=False,
        steps=2,
        strength=1.0,
    )
    result = engine.generate(request, inputs=store)
    x0, y0, x1, y1 = result.request.crop_box or (0, 0, 0, 0)
    assert (x0, y0, x1, y1) == (0, 36, 20, 56)  # 16x20 box widened to 20x20, shifted to x = 0
    got, source = np.asarray(result.images[0]), np.asarray(image)
    inside = np.zeros((96, 160), dtype=bool)
    inside[y0:y1, x0:x1] = True
    assert np.array_equal(got[~inside], source[~inside])
    keep = inside & (np.asarray(mask) == 0)
    assert not np.array_equal(got[keep], source[keep])
