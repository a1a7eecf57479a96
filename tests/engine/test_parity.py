"""The engine's images equal diffusers' own StableDiffusionPipeline, pixel for pixel, on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import SCHEDULER_NAMES, build_scheduler

PROMPT = "a watercolour fox in the snow"
NEGATIVE = "blurry, low quality"


def reference_images(
    folder: Path, scheduler: str, seeds: list[int], **kwargs: Any
) -> list[np.ndarray]:
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(folder))
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


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_engine_equals_diffusers_for_every_scheduler(
    engine: Engine, tiny_model_dir: Path, scheduler: str
) -> None:
    request = GenerationRequest(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        model=str(tiny_model_dir),
        seed=1234,
        steps=4,
        guidance_scale=6.0,
        scheduler=scheduler,
        width=64,
        height=64,
    )
    result = engine.generate(request)
    expected = reference_images(
        tiny_model_dir,
        scheduler,
        [1234],
        num_inference_steps=4,
        guidance_scale=6.0,
        width=64,
        height=64,
    )
    assert np.array_equal(np.array(result.images[0]), expected[0])


def test_parity_on_an_epsilon_base_model_at_a_non_square_size(
    engine: Engine, tiny_base_model_dir: Path
) -> None:
    request = GenerationRequest(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        model=str(tiny_base_model_dir),
        seed=99,
        steps=3,
        guidance_scale=7.5,
        scheduler="dpmpp_2m",
        width=96,
        height=64,
    )
    result = engine.generate(request)
    assert result.runtime.prediction_type == "epsilon"
    expected = reference_images(
        tiny_base_model_dir,
        "dpmpp_2m",
        [99],
        num_inference_steps=3,
        guidance_scale=7.5,
        width=96,
        height=64,
    )
    assert result.images[0].size == (96, 64)
    assert np.array_equal(np.array(result.images[0]), expected[0])


def test_batch_uses_seed_plus_index_and_equals_diffusers_batch(
    engine: Engine, tiny_model_dir: Path
) -> None:
    request = GenerationRequest(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        model=str(tiny_model_dir),
        seed=500,
        steps=3,
        width=64,
        height=64,
        batch_size=3,
        scheduler="euler_a",
    )
    result = engine.generate(request)
    assert result.seeds == [500, 501, 502]
    expected = reference_images(
        tiny_model_dir,
        "euler_a",
        [500, 501, 502],
        num_inference_steps=3,
        guidance_scale=7.5,
        width=64,
        height=64,
    )
    for image, reference in zip(result.images, expected, strict=True):
        assert np.array_equal(np.array(image), reference)
    # Image i starts from the noise of seed + i: it matches a single run of that seed up to the
    # last-bit differences of batched arithmetic.
    single = engine.generate(request.replace(seed=501, batch_size=1))
    difference = np.abs(np.array(single.images[0]).astype(int) - np.array(result.images[1]))
    assert difference.max() <= 2


def test_same_seed_same_image_across_runs(engine: Engine, tiny_model_dir: Path) -> None:
    request = GenerationRequest(
        prompt="a red door", model=str(tiny_model_dir), seed=7, steps=3, width=64, height=64
    )
    first = np.array(engine.generate(request).images[0])
    second = np.array(Engine().generate(request).images[0])
    third = np.array(engine.generate(request.replace(seed=8)).images[0])
    assert np.array_equal(first, second)
    assert not np.array_equal(first, third)
