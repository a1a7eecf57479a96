"""Depth-to-image: parity with diffusers, the estimator vs a given map, exact re-runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.depth import depth_tensor
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.errors import UserFacingError

PROMPT = "a stone bridge over a river"
NEGATIVE = "blurry"


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = base + rng.normal(0, 12, base.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def depth_ramp(width: int, height: int) -> Image.Image:
    """Near (white) at the bottom, far (black) at the top, with a near box in the middle."""
    y = np.repeat(np.linspace(0, 255, height)[:, None], width, axis=1)
    y[height // 4 : height // 2, width // 4 : width // 2] = 255
    return Image.fromarray(y.astype(np.uint8), "L")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture
def store(tmp_path: Path) -> InputImages:
    return InputImages(tmp_path / "inputs")


def depth_request(model: Path, init_image: str, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "model": str(model),
        "mode": "depth",
        "init_image": init_image,
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


def diffusers_depth(
    folder: Path, scheduler: str, seeds: list[int], **kwargs: Any
) -> list[np.ndarray]:
    import diffusers
    import torch

    pipe = diffusers.StableDiffusionDepth2ImgPipeline.from_pretrained(str(folder))
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
    return [np.asarray(image) for image in out.images]


def spy_on_estimator(engine: Engine, model: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count calls of the loaded depth estimator's forward."""
    estimator = engine.load(str(model)).pipeline_for("depth").depth_estimator
    calls: list[int] = []
    forward = estimator.forward

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return forward(*args, **kwargs)

    monkeypatch.setattr(estimator, "forward", counting)
    return calls


# -- parity with diffusers ------------------------------------------------------------------


@pytest.mark.parametrize(("scheduler", "batch"), [("ddim", 1), ("euler_a", 2)])
def test_estimated_depth_run_equals_diffusers_with_that_depth_map(
    engine: Engine, store: InputImages, tiny_depth_model_dir: Path, scheduler: str, batch: int
) -> None:
    image = picture(64, 64)
    request = depth_request(
        tiny_depth_model_dir, store.put(image), scheduler=scheduler, batch_size=batch
    )
    assert request.depth_map is None
    result = engine.generate(request, inputs=store)
    used = result.request.depth_map
    assert used is not None
    assert result.request == request.replace(depth_map=used)  # nothing else changes
    depth = store.get(used)
    assert depth.mode == "L"
    assert depth.size == image.size
    # The map the engine estimated, stored and used is what estimate_depth returns ...
    assert np.array_equal(
        np.asarray(depth), np.asarray(engine.estimate_depth(image, str(tiny_depth_model_dir)))
    )
    # ... and diffusers given that map as its depth_map tensor makes the same pixels.
    expected = diffusers_depth(
        tiny_depth_model_dir,
        scheduler,
        request.seeds(),
        image=image,
        depth_map=depth_tensor(depth),
        strength=0.8,
        num_inference_steps=4,
        guidance_scale=6.0,
    )
    assert result.notices == []
    for got, want in zip(result.images, expected, strict=True):
        assert np.array_equal(np.asarray(got), want)


def test_estimate_depth_normalises_as_the_pipeline_does(
    engine: Engine, tiny_depth_model_dir: Path
) -> None:
    import torch

    image = picture(70, 50, seed=1)
    depth = engine.estimate_depth(image, str(tiny_depth_model_dir))
    assert depth.mode == "L"
    assert depth.size == (70, 50)
    values = np.asarray(depth)
    assert (values.min(), values.max()) == (0, 255)
    pipe = engine.load(str(tiny_depth_model_dir)).pipeline_for("depth")
    # The pipeline's own conditioning from the estimator vs. from our 8-bit map: the same up to
    # the 8-bit rounding and one more bicubic resize.
    cpu = torch.device("cpu")
    with torch.no_grad():
        own = pipe.prepare_depth_map(image, None, 1, False, torch.float32, cpu)
        ours = pipe.prepare_depth_map(image, depth_tensor(depth), 1, False, torch.float32, cpu)
    assert own.shape == ours.shape == (1, 1, 6, 8)
    assert float((own - ours).abs().mean()) < 0.03


# -- a given depth map ----------------------------------------------------------------------


def test_a_given_depth_map_is_used_and_the_estimator_is_not_called(
    store: InputImages, tiny_depth_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine()
    calls = spy_on_estimator(engine, tiny_depth_model_dir, monkeypatch)
    image, depth = picture(64, 64, seed=2), depth_ramp(64, 64)
    depth_id = store.put(depth)
    request = depth_request(tiny_depth_model_dir, store.put(image), depth_map=depth_id)
    result = engine.generate(request, inputs=store)
    assert calls == []
    assert result.request == request
    expected = diffusers_depth(
        tiny_depth_model_dir,
        "ddim",
        [42],
        image=image,
        depth_map=depth_tensor(depth),
        strength=0.8,
        num_inference_steps=4,
        guidance_scale=6.0,
    )
    assert np.array_equal(np.asarray(result.images[0]), expected[0])
    # Without the map the estimator runs (once) and the image differs: the depth matters.
    estimated = engine.generate(request.replace(depth_map=None), inputs=store)
    assert calls == [1]
    assert not np.array_equal(np.asarray(estimated.images[0]), expected[0])


def test_a_depth_re_run_is_pixel_identical_and_runs_no_estimator(
    engine: Engine,
    store: InputImages,
    tiny_depth_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = depth_request(tiny_depth_model_dir, store.put(picture(72, 56, seed=3)))
    first = engine.generate(request, inputs=store)
    assert first.images[0].size == (72, 56)
    fresh = Engine()
    calls = spy_on_estimator(fresh, tiny_depth_model_dir, monkeypatch)
    saved = GenerationRequest.from_json(first.request.to_json())
    again = fresh.generate(saved, inputs=store)
    assert calls == []
    assert again.request == first.request
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(first.images[0]))


def test_a_depth_map_of_another_size_is_resized_with_a_notice(
    engine: Engine, store: InputImages, tiny_depth_model_dir: Path
) -> None:
    image = picture(64, 64, seed=4)
    request = depth_request(
        tiny_depth_model_dir, store.put(image), depth_map=store.put(depth_ramp(32, 40))
    )
    result = engine.generate(request, inputs=store)
    assert any(
        "depth map (32x40) is not the size of the image (64x64)" in n for n in result.notices
    )


def test_bad_depth_inputs_fail_before_any_model_load(
    store: InputImages, tiny_depth_model_dir: Path
) -> None:
    engine = Engine()
    init = store.put(picture(64, 64))
    flat = store.put(Image.new("L", (64, 64), 128))
    with pytest.raises(UserFacingError, match="depth map is flat"):
        engine.generate(depth_request(tiny_depth_model_dir, init, depth_map=flat), inputs=store)
    with pytest.raises(UserFacingError, match="gone from"):
        engine.generate(depth_request(tiny_depth_model_dir, init, depth_map="d" * 64), inputs=store)
    assert engine.cache.loads == 0


# -- models and modes ------------------------------------------------------------------------


def test_the_depth_model_runs_only_depth_and_txt2img_models_refuse_depth(
    engine: Engine, store: InputImages, tiny_depth_model_dir: Path, tiny_model_dir: Path
) -> None:
    init = store.put(picture(64, 64))
    with pytest.raises(UserFacingError, match="depth-to-image model .* only run depth, not run"):
        engine.generate(
            GenerationRequest(
                prompt="x", model=str(tiny_depth_model_dir), mode="img2img", init_image=init
            ),
            inputs=store,
        )
    with pytest.raises(UserFacingError) as caught:
        engine.generate(depth_request(tiny_model_dir, init), inputs=store)
    assert "depth needs the SD2 depth-to-image model" in str(caught.value)
    assert "sd2-community/stable-diffusion-2-depth" in str(caught.value)
    with pytest.raises(UserFacingError, match="not a depth-to-image model"):
        engine.estimate_depth(picture(64, 64), str(tiny_model_dir))


def test_a_model_index_naming_dpt_feature_extractor_still_loads(
    tiny_depth_model_dir: Path, tmp_path: Path
) -> None:
    """transformers 5 dropped DPTFeatureExtractor, the class the SD2 depth repo names."""
    folder = tmp_path / "depth-old-index"
    shutil.copytree(tiny_depth_model_dir, folder)
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text())
    index["feature_extractor"] = ["transformers", "DPTFeatureExtractor"]
    index_file.write_text(json.dumps(index))
    config_file = folder / "feature_extractor" / "preprocessor_config.json"
    config = json.loads(config_file.read_text())
    config["feature_extractor_type"] = "DPTFeatureExtractor"
    config.pop("image_processor_type", None)
    config_file.write_text(json.dumps(config))
    image = picture(64, 64, seed=5)
    old = Engine().estimate_depth(image, str(folder))
    new = Engine().estimate_depth(image, str(tiny_depth_model_dir))
    assert np.array_equal(np.asarray(old), np.asarray(new))
