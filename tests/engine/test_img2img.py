"""img2img and inpaint: parity with diffusers' own pipelines, exact unmasked pixels, sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.masks import effective_mask
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.errors import GenerationCancelled, UserFacingError

PROMPT = "a watercolour fox in the snow"
NEGATIVE = "blurry"


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth gradient with some noise: closer to a photo than pure noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = base + rng.normal(0, 12, base.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def box_mask(width: int, height: int, box: tuple[int, int, int, int]) -> Image.Image:
    mask = np.zeros((height, width), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = 255
    return Image.fromarray(mask, "L")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture
def store(tmp_path: Path) -> InputImages:
    return InputImages(tmp_path / "inputs")


def request_for(model: Path, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "model": str(model),
        "seed": 42,
        "steps": 4,
        "guidance_scale": 6.0,
        "scheduler": "ddim",
        "width": 64,
        "height": 64,
        "strength": 0.8,
    }
    values.update(changes)
    return GenerationRequest(**values)


def reference(
    pipeline_class: str,
    folder: Path,
    scheduler: str,
    seeds: list[int],
    **kwargs: Any,
) -> list[np.ndarray]:
    import diffusers
    import torch

    pipe = getattr(diffusers, pipeline_class).from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = build_scheduler(scheduler, pipe.scheduler.config)
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    out = pipe(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        generator=generators if len(generators) > 1 else generators[0],
        num_images_per_prompt=len(seeds),
        **kwargs,
    )
    return [np.array(image) for image in out.images]


# -- parity with diffusers ------------------------------------------------------------------


@pytest.mark.parametrize(("scheduler", "batch"), [("ddim", 1), ("euler_a", 2)])
def test_img2img_equals_diffusers_img2img_pipeline(
    engine: Engine, store: InputImages, tiny_model_dir: Path, scheduler: str, batch: int
) -> None:
    image = picture(64, 64)
    request = request_for(
        tiny_model_dir,
        mode="img2img",
        init_image=store.put(image),
        scheduler=scheduler,
        batch_size=batch,
    )
    result = engine.generate(request, inputs=store)
    expected = reference(
        "StableDiffusionImg2ImgPipeline",
        tiny_model_dir,
        scheduler,
        request.seeds(),
        image=image,
        strength=0.8,
        num_inference_steps=4,
        guidance_scale=6.0,
    )
    assert result.seeds == request.seeds()
    assert result.notices == []
    for got, want in zip(result.images, expected, strict=True):
        assert np.array_equal(np.array(got), want)


@pytest.mark.parametrize(
    ("scheduler", "strength", "batch"), [("pndm", 1.0, 1), ("dpmpp_2m", 0.6, 2)]
)
def test_inpaint_equals_diffusers_inpaint_pipeline_on_a_9_channel_model(
    engine: Engine,
    store: InputImages,
    tiny_inpaint_model_dir: Path,
    scheduler: str,
    strength: float,
    batch: int,
) -> None:
    image, mask = picture(64, 64, seed=1), box_mask(64, 64, (16, 8, 48, 40))
    request = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        scheduler=scheduler,
        strength=strength,
        batch_size=batch,
        keep_unmasked=False,
    )
    result = engine.generate(request, inputs=store)
    expected = reference(
        "StableDiffusionInpaintPipeline",
        tiny_inpaint_model_dir,
        scheduler,
        request.seeds(),
        image=image,
        mask_image=mask,
        strength=strength,
        num_inference_steps=4,
        guidance_scale=6.0,
        width=64,
        height=64,
    )
    assert result.notices == []
    for got, want in zip(result.images, expected, strict=True):
        assert np.array_equal(np.array(got), want)


def test_masked_img2img_on_a_4_channel_model_equals_diffusers_and_says_so(
    engine: Engine, store: InputImages, tiny_model_dir: Path
) -> None:
    image, mask = picture(64, 64, seed=2), box_mask(64, 64, (0, 0, 32, 64))
    request = request_for(
        tiny_model_dir,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        keep_unmasked=False,
    )
    result = engine.generate(request, inputs=store)
    expected = reference(
        "StableDiffusionInpaintPipeline",
        tiny_model_dir,
        "ddim",
        [42],
        image=image,
        mask_image=mask,
        strength=0.8,
        num_inference_steps=4,
        guidance_scale=6.0,
        width=64,
        height=64,
    )
    assert np.array_equal(np.array(result.images[0]), expected[0])
    assert len(result.notices) == 1
    assert "as masked img2img" in result.notices[0]
    assert "sd2-community/stable-diffusion-2-inpainting" in result.notices[0]


# -- exact unmasked pixels, sizes -----------------------------------------------------------


@pytest.mark.parametrize("model", ["tiny_inpaint_model_dir", "tiny_model_dir"])
def test_keep_unmasked_leaves_every_pixel_outside_the_feathered_mask_exact(
    engine: Engine, store: InputImages, model: str, request: pytest.FixtureRequest
) -> None:
    folder = request.getfixturevalue(model)
    image, mask = picture(64, 64, seed=3), box_mask(64, 64, (20, 20, 40, 44))
    job = request_for(
        folder,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        mask_grow=3,
        mask_feather=2.0,
    )
    out = np.asarray(engine.generate(job, inputs=store).images[0])
    original = np.asarray(image)
    effective = effective_mask(np.asarray(mask), 3, 2.0)
    outside = effective == 0
    assert outside.sum() > 64 * 64 // 2
    assert np.array_equal(out[outside], original[outside])
    assert not np.array_equal(out[effective == 255], original[effective == 255])
    # Without it the VAE round trip changes pixels everywhere (diffusers issue #5808).
    loose = engine.generate(job.replace(keep_unmasked=False), inputs=store).images[0]
    assert not np.array_equal(np.asarray(loose)[outside], original[outside])


def test_an_odd_size_is_padded_and_cropped_back_exactly(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    image, mask = picture(70, 50, seed=4), box_mask(70, 50, (30, 10, 60, 40))
    job = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        width=72,
        height=64,
    )
    result = engine.generate(job, inputs=store)
    out = np.asarray(result.images[0])
    assert result.images[0].size == (70, 50)
    assert result.notices == []
    outside = np.asarray(mask) == 0
    assert np.array_equal(out[outside], np.asarray(image)[outside])


def test_odd_size_img2img_equals_diffusers_on_the_padded_image_cropped(
    engine: Engine, store: InputImages, tiny_model_dir: Path
) -> None:
    image = picture(70, 50, seed=5)
    job = request_for(
        tiny_model_dir, mode="img2img", init_image=store.put(image), width=72, height=64
    )
    result = engine.generate(job, inputs=store)
    assert result.images[0].size == (70, 50)
    padded = np.pad(np.asarray(image), ((0, 14), (0, 2), (0, 0)), mode="edge")
    expected = reference(
        "StableDiffusionImg2ImgPipeline",
        tiny_model_dir,
        "ddim",
        [42],
        image=Image.fromarray(padded),
        strength=0.8,
        num_inference_steps=4,
        guidance_scale=6.0,
    )
    assert np.array_equal(np.asarray(result.images[0]), expected[0][:50, :70])


def test_a_large_input_is_processed_small_and_scaled_back(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    image = picture(300, 200, seed=6)
    mask = box_mask(300, 200, (100, 50, 220, 150))
    steps: list[Any] = []
    result = engine.generate(
        request_for(
            tiny_inpaint_model_dir,
            mode="inpaint",
            init_image=store.put(image),
            mask_image=store.put(mask),
            mask_feather=4.0,
        ),
        on_step=steps.append,
        inputs=store,
    )
    assert steps[0].latents.shape[-2:] == (8, 8)  # processed at 64 x 64
    assert result.images[0].size == (300, 200)
    # 300x200 into the locked 64x64: letterboxed at 64x43, never stretched
    assert any("processed at 64x43 inside it, padded" in n for n in result.notices)
    effective = effective_mask(np.asarray(mask), 0, 4.0)
    outside = effective == 0
    assert np.array_equal(np.asarray(result.images[0])[outside], np.asarray(image)[outside])


def test_a_mask_of_another_size_is_resized_with_a_notice(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    image = picture(64, 64, seed=7)
    small_mask = box_mask(32, 32, (0, 0, 16, 32))  # the left half, at half the size
    result = engine.generate(
        request_for(
            tiny_inpaint_model_dir,
            mode="inpaint",
            init_image=store.put(image),
            mask_image=store.put(small_mask),
        ),
        inputs=store,
    )
    assert any("mask (32x32) is not the size of the image (64x64)" in n for n in result.notices)
    out, original = np.asarray(result.images[0]), np.asarray(image)
    assert np.array_equal(out[:, 34:], original[:, 34:])
    assert not np.array_equal(out[:, :30], original[:, :30])


# -- the engine around the modes -------------------------------------------------------------


def test_switching_mode_reuses_the_loaded_weights(store: InputImages, tiny_model_dir: Path) -> None:
    engine = Engine()
    init = store.put(picture(64, 64))
    mask = store.put(box_mask(64, 64, (8, 8, 24, 24)))
    engine.generate(request_for(tiny_model_dir, steps=2), inputs=store)
    engine.generate(request_for(tiny_model_dir, mode="img2img", init_image=init), inputs=store)
    engine.generate(
        request_for(tiny_model_dir, mode="inpaint", init_image=init, mask_image=mask),
        inputs=store,
    )
    engine.generate(request_for(tiny_model_dir, steps=2), inputs=store)
    assert engine.cache.loads == 1
    loaded = engine.cache.loaded
    assert loaded is not None
    for mode in ("img2img", "inpaint"):
        derived = loaded.pipeline_for(mode)
        assert type(derived).__name__ != type(loaded.pipeline).__name__
        assert derived.unet is loaded.pipeline.unet
        assert derived.vae is loaded.pipeline.vae
        assert derived.text_encoder is loaded.pipeline.text_encoder


def test_an_inpainting_model_refuses_txt2img_and_img2img_clearly(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    with pytest.raises(UserFacingError, match="is an inpainting model"):
        engine.generate(request_for(tiny_inpaint_model_dir), inputs=store)
    init = store.put(picture(64, 64))
    with pytest.raises(UserFacingError, match="only inpaint, not run img2img"):
        engine.generate(
            request_for(tiny_inpaint_model_dir, mode="img2img", init_image=init), inputs=store
        )


def test_missing_inputs_and_empty_masks_fail_before_any_model_load(
    store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    engine = Engine()
    init = store.put(picture(64, 64))
    with pytest.raises(UserFacingError, match="gone from"):
        engine.generate(
            request_for(
                tiny_inpaint_model_dir, mode="inpaint", init_image=init, mask_image="e" * 64
            ),
            inputs=store,
        )
    empty = store.put(Image.new("L", (64, 64), 0))
    with pytest.raises(UserFacingError, match="mask is empty"):
        engine.generate(
            request_for(tiny_inpaint_model_dir, mode="inpaint", init_image=init, mask_image=empty),
            inputs=store,
        )
    small = store.put(box_mask(64, 64, (10, 10, 13, 13)))
    with pytest.raises(UserFacingError, match="shrink removed all of it"):
        engine.generate(
            request_for(
                tiny_inpaint_model_dir,
                mode="inpaint",
                init_image=init,
                mask_image=small,
                mask_grow=-2,
            ),
            inputs=store,
        )
    assert engine.cache.loads == 0


def test_inputs_default_to_the_data_folder(
    engine: Engine, data_dir: Path, tiny_model_dir: Path
) -> None:
    store = InputImages(data_dir / "inputs")
    job = request_for(tiny_model_dir, mode="img2img", init_image=store.put(picture(64, 64)))
    assert np.array_equal(
        np.asarray(engine.generate(job).images[0]),
        np.asarray(engine.generate(job, inputs=store).images[0]),
    )


def test_progress_and_cancel_in_inpaint(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path
) -> None:
    job = request_for(
        tiny_inpaint_model_dir,
        mode="inpaint",
        init_image=store.put(picture(64, 64)),
        mask_image=store.put(box_mask(64, 64, (0, 0, 40, 40))),
        steps=10,
        strength=0.5,
    )
    seen: list[int] = []
    with pytest.raises(GenerationCancelled):
        engine.generate(
            job,
            on_step=lambda info: seen.append(info.total),
            should_cancel=lambda: len(seen) >= 2,
            inputs=store,
        )
    assert seen == [5, 5]  # strength 0.5 of 10 steps


def test_cpu_offload_hooks_follow_the_pipeline_in_use(
    engine: Engine, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = engine.load(str(tiny_model_dir))
    hooked: list[str] = []
    import diffusers

    for name in ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"):
        monkeypatch.setattr(
            getattr(diffusers, name),
            "enable_model_cpu_offload",
            lambda self, device=None: hooked.append(type(self).__name__),
        )
    monkeypatch.setattr(loaded, "cpu_offload", True)
    monkeypatch.setattr(loaded, "offload_owner", loaded.pipeline)
    try:
        loaded.pipeline_for("txt2img")
        loaded.pipeline_for("img2img")
        loaded.pipeline_for("img2img")
        loaded.pipeline_for("txt2img")
    finally:
        loaded.offload_owner = None
    assert hooked == ["StableDiffusionImg2ImgPipeline", "StableDiffusionPipeline"]
