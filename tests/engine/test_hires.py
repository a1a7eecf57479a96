"""The hires fix: a recipe of stages that equals the manual two passes, pixel for pixel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.context import StepInfo
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.recipes import plan_for
from sd21_desktop.engine.request import SCHEMA_VERSION, GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.errors import InvalidRequestError


def hires_request(model: Path, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "model": str(model),
        "seed": 21,
        "steps": 4,
        "width": 64,
        "height": 64,
        "scheduler": "ddim",
        "hires_upscaler": "lanczos",
        "hires_scale": 1.5,
        "hires_steps": 6,
        "hires_denoise": 0.5,
    }
    values.update(changes)
    return GenerationRequest(**values)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_lanczos_hires_equals_txt2img_then_lanczos_resize_then_img2img(
    engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    request = hires_request(tiny_model_dir, batch_size=2)
    hires = engine.generate(request)
    assert [image.size for image in hires.images] == [(96, 96), (96, 96)]
    assert hires.request == request  # the result re-runs as the hires request itself
    store = InputImages(tmp_path / "inputs")
    plain = request.replace(hires_upscaler=None)
    first = engine.generate(plain)
    for index, seed in enumerate(first.seeds):
        resized = first.images[index].resize((96, 96), Image.Resampling.LANCZOS)
        second = engine.generate(
            plain.replace(
                mode="img2img",
                seed=seed,
                batch_size=1,
                width=96,
                height=96,
                steps=6,
                strength=0.5,
                init_image=store.put(resized),
            ),
            inputs=store,
        )
        assert np.array_equal(np.asarray(hires.images[index]), np.asarray(second.images[0]))


def test_x4_hires_equals_txt2img_then_upscale_mode_then_lanczos_then_img2img(
    engine: Engine, tiny_model_dir: Path, tiny_upscale_model_dir: Path, tmp_path: Path
) -> None:
    upscaler = str(tiny_upscale_model_dir)
    request = hires_request(
        tiny_model_dir, hires_upscaler="x4", hires_upscaler_model=upscaler, hires_width=144,
        hires_height=120, tile_size=40, tile_overlap=8, noise_level=30, batch_size=2, steps=2,
        hires_steps=2,
    )  # fmt: skip
    loads = engine.cache.loads
    steps: list[StepInfo] = []
    hires = engine.generate(request, on_step=steps.append)
    assert [image.size for image in hires.images] == [(144, 120)] * 2
    assert hires.request == request
    assert steps[-1].step == steps[-1].total  # progress covers the first pass, tiles and second
    tiles = {step.stage for step in steps if step.stage.startswith("upscale tile")}
    assert tiles == {f"upscale tile {i}/4" for i in range(1, 5)}  # the tiled path: 2 x 2 tiles
    store = InputImages(tmp_path / "inputs")
    plain = request.replace(hires_upscaler=None)
    first = engine.generate(plain)
    for index, seed in enumerate(first.seeds):
        upscale = plain.replace(
            mode="upscale", model=upscaler, seed=seed, batch_size=1,
            init_image=store.put(first.images[index]),
        )  # fmt: skip
        upscaled = engine.generate(upscale, inputs=store).images[0]
        assert upscaled.size == (256, 256)
        resized = upscaled.resize((144, 120), Image.Resampling.LANCZOS)
        second = plain.replace(
            mode="img2img", seed=seed, batch_size=1, width=144, height=120, steps=2,
            strength=0.5, init_image=store.put(resized),
        )  # fmt: skip
        expected = engine.generate(second, inputs=store).images[0]
        assert np.array_equal(np.asarray(hires.images[index]), np.asarray(expected))
    assert engine.cache.loads - loads >= 2  # the manual chain swapped models; hires held both


def test_the_x4_upscaler_is_held_beside_the_model_and_dropped_with_it(
    tiny_model_dir: Path, tiny_base_model_dir: Path, tiny_upscale_model_dir: Path
) -> None:
    engine = Engine()
    request = hires_request(
        tiny_model_dir, hires_upscaler="x4", hires_upscaler_model=str(tiny_upscale_model_dir),
        steps=1, hires_steps=2,
    )  # fmt: skip
    engine.generate(request)
    engine.generate(request.replace(seed=22))
    assert engine.cache.loads == 2  # the model and the upscaler, each once for both images
    engine.generate(request.replace(model=str(tiny_base_model_dir), hires_upscaler=None))
    assert engine.cache._companion is None  # a new model drops the upscaler: never three held
    assert engine.cache.loads == 3


def test_latent_hires_equals_diffusers_latent_output_resized_bilinear_then_img2img(
    engine: Engine, tiny_model_dir: Path
) -> None:
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    request = hires_request(tiny_model_dir, hires_upscaler="latent", hires_scale=2.0)
    ours = engine.generate(request)
    txt2img = StableDiffusionPipeline.from_pretrained(str(tiny_model_dir))
    txt2img.set_progress_bar_config(disable=True)
    common = {"prompt": request.prompt, "negative_prompt": "blurry", "guidance_scale": 7.5}
    txt2img.scheduler = build_scheduler("ddim", txt2img.scheduler.config)
    latents = txt2img(
        **common,
        width=64,
        height=64,
        num_inference_steps=4,
        generator=torch.Generator("cpu").manual_seed(21),
        output_type="latent",
    ).images
    upscaled = torch.nn.functional.interpolate(
        latents, size=(16, 16), mode="bilinear", antialias=False
    )
    img2img = StableDiffusionImg2ImgPipeline(**txt2img.components)
    img2img.scheduler = build_scheduler("ddim", txt2img.scheduler.config)
    expected = img2img(
        **common,
        image=upscaled,
        strength=0.5,
        num_inference_steps=6,
        generator=torch.Generator("cpu").manual_seed(21),
    ).images[0]
    assert ours.images[0].size == (128, 128)
    assert np.array_equal(np.asarray(ours.images[0]), np.asarray(expected))


def test_progress_covers_both_passes_of_every_image(engine: Engine, tiny_model_dir: Path) -> None:
    request = hires_request(tiny_model_dir, steps=4, hires_steps=6, batch_size=2)
    steps: list[StepInfo] = []
    engine.generate(request, on_step=steps.append)
    total = 4 + 3 * 2  # the batched first pass, then int(6 x 0.5) img2img steps per image
    assert [info.step for info in steps] == list(range(1, total + 1))
    assert {info.total for info in steps} == {total}
    assert [info.stage for info in steps] == ["denoise 1/2"] * 4 + ["denoise 2/2"] * 6
    assert [info.stage_step for info in steps][4:] == [1, 2, 3, 1, 2, 3]
    assert plan_for(request).labels() == [
        "condition",
        "denoise 1/2",
        "hires upscale",
        "denoise 2/2",
    ]


def test_hires_size_by_scale_or_explicit_and_zero_steps_means_the_first_pass_steps() -> None:
    request = hires_request(Path("m"), width=64, height=72, hires_scale=1.7)
    assert request.hires_size() == (104, 120)  # int(64 x 1.7) = 108 → 104; int(122.4) = 122 → 120
    assert request.replace(hires_width=128, hires_height=96).hires_size() == (128, 96)
    from sd21_desktop.engine.hires import second_pass_request

    second = second_pass_request(request.replace(hires_steps=0, steps=9))
    assert (second.steps, second.strength, second.width, second.hires_upscaler) == (
        9,
        0.5,
        104,
        None,
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hires_upscaler": "esrgan"}, "hires_upscaler"),
        ({"hires_denoise": 0.0}, "hires_denoise"),
        ({"hires_denoise": 1.5}, "hires_denoise"),
        ({"hires_scale": 0.5}, "hires_scale"),
        ({"hires_scale": 40.0}, "hires_scale"),
        ({"hires_width": 100, "hires_height": 96}, "hires_width"),
        ({"hires_width": 128}, "hires_width"),
        ({"hires_steps": 1, "hires_denoise": 0.5}, "hires_denoise"),
        ({"hires_steps": -1}, "hires_steps"),
    ],
)
def test_bad_hires_settings_are_refused_with_the_field_named(
    changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        hires_request(Path("m"), **changes)
    assert caught.value.field == field


def test_hires_is_txt2img_only_and_old_requests_load_with_it_off() -> None:
    with pytest.raises(InvalidRequestError, match="second pass of txt2img"):
        hires_request(Path("m"), mode="img2img", init_image="0" * 64)
    old = {"prompt": "x", "schema_version": 3, "seed": 1}
    loaded = GenerationRequest.from_dict(old)
    assert loaded.hires_upscaler is None
    assert loaded.variation_strength == 0.0
    assert loaded.schema_version == SCHEMA_VERSION
    again = GenerationRequest.from_json(hires_request(Path("m")).to_json())
    assert again == hires_request(Path("m"))
