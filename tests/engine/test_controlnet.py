"""ControlNet units: parity with diffusers' ControlNet pipelines, windows, weight 0, refusals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.context import StepInfo
from sd21_desktop.engine.control_units import ControlUnit
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.errors import UserFacingError

PROMPT = "a lighthouse on a cliff"
NEGATIVE = "blurry"


def scribble(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    """White strokes on black, like a painted control layer."""
    rng = np.random.default_rng(seed)
    pixels = np.zeros((height, width, 3), np.uint8)
    for _ in range(6):
        y, x0 = rng.integers(4, height - 4), rng.integers(0, width // 2)
        pixels[y : y + 2, x0 : x0 + width // 3] = 255
    return Image.fromarray(pixels, "RGB")


def photo(width: int = 64, height: int = 64, seed: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    return Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8))


def request_for(model: Path, units: tuple[ControlUnit, ...], **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "model": str(model),
        "seed": 7,
        "steps": 4,
        "guidance_scale": 6.0,
        "scheduler": "ddim",
        "width": 64,
        "height": 64,
        "controls": units,
    }
    values.update(changes)
    return GenerationRequest(**values)


def reference(
    pipeline_class: str, folder: Path, controlnets: list[Path], seed: int, **kwargs: Any
) -> np.ndarray:
    """diffusers' own ControlNet pipeline, loaded from the folders, called as documented."""
    import diffusers
    import torch
    from diffusers import ControlNetModel

    nets = [ControlNetModel.from_pretrained(str(path)) for path in controlnets]
    pipe = getattr(diffusers, pipeline_class).from_pretrained(
        str(folder),
        controlnet=nets[0] if len(nets) == 1 else nets,
        safety_checker=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = build_scheduler("ddim", pipe.scheduler.config)
    out = pipe(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        num_inference_steps=4,
        guidance_scale=6.0,
        generator=torch.Generator("cpu").manual_seed(seed),
        **kwargs,
    )
    return np.array(out.images[0])


@pytest.mark.parametrize("guess_mode", [False, True])
def test_one_unit_equals_diffusers_controlnet_pipeline(
    engine: Engine,
    store: InputImages,
    tiny_model_dir: Path,
    tiny_controlnet_dir: Path,
    guess_mode: bool,
) -> None:
    control = scribble()
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(control), 0.8, guess_mode=guess_mode)
    result = engine.generate(request_for(tiny_model_dir, (unit,)), inputs=store)
    expected = reference(
        "StableDiffusionControlNetPipeline",
        tiny_model_dir,
        [tiny_controlnet_dir],
        7,
        image=control,
        width=64,
        height=64,
        controlnet_conditioning_scale=0.8,
        guess_mode=guess_mode,
    )
    assert np.array_equal(np.array(result.images[0]), expected)
    assert result.notices == []


def test_two_units_equal_diffusers_multicontrolnet(
    engine: Engine,
    store: InputImages,
    tiny_model_dir: Path,
    tiny_controlnet_dir: Path,
    tiny_controlnet_pair: Path,
) -> None:
    first, second = scribble(seed=1), scribble(seed=2)
    units = (
        ControlUnit(str(tiny_controlnet_dir), store.put(first), 1.0, 0.0, 0.75),
        ControlUnit(str(tiny_controlnet_pair), store.put(second), 0.5, 0.25, 1.0),
    )
    result = engine.generate(request_for(tiny_model_dir, units), inputs=store)
    expected = reference(
        "StableDiffusionControlNetPipeline",
        tiny_model_dir,
        [tiny_controlnet_dir, tiny_controlnet_pair],
        7,
        image=[first, second],
        width=64,
        height=64,
        controlnet_conditioning_scale=[1.0, 0.5],
        control_guidance_start=[0.0, 0.25],
        control_guidance_end=[0.75, 1.0],
    )
    assert np.array_equal(np.array(result.images[0]), expected)
    one = engine.generate(request_for(tiny_model_dir, units[:1]), inputs=store)
    assert not np.array_equal(np.array(one.images[0]), expected)  # the second unit counts


def test_img2img_unit_equals_diffusers_controlnet_img2img(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tiny_controlnet_dir: Path
) -> None:
    image, control = photo(), scribble(seed=4)
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(control))
    request = request_for(
        tiny_model_dir, (unit,), mode="img2img", init_image=store.put(image), strength=0.75
    )
    result = engine.generate(request, inputs=store)
    expected = reference(
        "StableDiffusionControlNetImg2ImgPipeline",
        tiny_model_dir,
        [tiny_controlnet_dir],
        7,
        image=image,
        control_image=control,
        strength=0.75,
        controlnet_conditioning_scale=1.0,  # this pipeline's default is 0.8; the unit's is 1
    )
    assert np.array_equal(np.array(result.images[0]), expected)


def test_inpaint_unit_equals_diffusers_controlnet_inpaint_on_the_9_channel_model(
    engine: Engine, store: InputImages, tiny_inpaint_model_dir: Path, tiny_controlnet_dir: Path
) -> None:
    image, control = photo(seed=5), scribble(seed=5)
    mask = np.zeros((64, 64), np.uint8)
    mask[8:40, 16:56] = 255
    mask_image = Image.fromarray(mask, "L")
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(control), 1.2)
    request = request_for(
        tiny_inpaint_model_dir,
        (unit,),
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask_image),
        strength=1.0,
        keep_unmasked=False,
    )
    result = engine.generate(request, inputs=store)
    expected = reference(
        "StableDiffusionControlNetInpaintPipeline",
        tiny_inpaint_model_dir,
        [tiny_controlnet_dir],
        7,
        image=image,
        mask_image=mask_image,
        control_image=control,
        strength=1.0,
        width=64,
        height=64,
        controlnet_conditioning_scale=1.2,
    )
    assert np.array_equal(np.array(result.images[0]), expected)


def test_weight_zero_equals_the_image_without_control(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tiny_controlnet_dir: Path
) -> None:
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(scribble()), weight=0.0)
    controlled = engine.generate(request_for(tiny_model_dir, (unit,)), inputs=store)
    plain = engine.generate(request_for(tiny_model_dir, ()), inputs=store)
    assert np.array_equal(np.array(controlled.images[0]), np.array(plain.images[0]))
    full_weight = replace(unit, weight=1.0)
    full = engine.generate(request_for(tiny_model_dir, (full_weight,)), inputs=store)
    assert not np.array_equal(np.array(full.images[0]), np.array(plain.images[0]))


@pytest.fixture
def residual_spy(engine: Engine) -> Any:
    """``spy(controlnet_dir, model)``: a list that records, per call of that (cached) ControlNet,
    whether its residuals were all zero; the hook is removed after the test."""
    from sd21_desktop.engine.controlnet_models import load_controlnet

    handles: list[Any] = []

    def spy(controlnet_dir: Path, model: Path) -> list[bool]:
        loaded = engine.load(str(model))
        unet = loaded.pipeline.unet
        net = load_controlnet(str(controlnet_dir), unet, loaded.dtype, loaded.device)
        zeros: list[bool] = []

        def hook(module: Any, args: Any, output: Any) -> None:
            down, mid = output
            zeros.append(not any(bool(t.any()) for t in (*down, mid)))

        handles.append(net.register_forward_hook(hook))
        return zeros

    yield spy
    for handle in handles:
        handle.remove()


@pytest.mark.parametrize(
    ("start", "end", "receives"),
    [
        (0.0, 1.0, [True] * 4),
        (0.5, 1.0, [False, False, True, True]),
        (0.0, 0.25, [True] + [False] * 3),
    ],
)
def test_start_and_end_choose_the_steps_that_receive_control(
    engine: Engine,
    store: InputImages,
    tiny_model_dir: Path,
    tiny_controlnet_dir: Path,
    residual_spy: Any,
    start: float,
    end: float,
    receives: list[bool],
) -> None:
    zeros = residual_spy(tiny_controlnet_dir, tiny_model_dir)
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(scribble()), 1.0, start, end)
    engine.generate(request_for(tiny_model_dir, (unit,)), inputs=store)
    assert [not zero for zero in zeros] == receives


def test_hires_fix_steers_both_passes_like_two_manual_runs(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tiny_controlnet_dir: Path
) -> None:
    control = scribble(seed=6)
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(control), 0.9)
    request = request_for(
        tiny_model_dir,
        (unit,),
        hires_upscaler="lanczos",
        hires_scale=1.5,
        hires_steps=4,
        hires_denoise=0.5,
    )
    hires = engine.generate(request, inputs=store)
    first = engine.generate(request.replace(hires_upscaler=None), inputs=store)
    lanczos = Image.Resampling.LANCZOS
    second_unit = ControlUnit(
        str(tiny_controlnet_dir), store.put(control.resize((96, 96), lanczos)), 0.9
    )
    second = engine.generate(
        request.replace(
            hires_upscaler=None,
            mode="img2img",
            width=96,
            height=96,
            strength=0.5,
            init_image=store.put(first.images[0].resize((96, 96), lanczos)),
            controls=(second_unit,),
        ),
        inputs=store,
    )
    assert np.array_equal(np.array(hires.images[0]), np.array(second.images[0]))


@pytest.mark.parametrize("upscaler", ["lanczos", "latent"])
@pytest.mark.parametrize(
    ("end", "receives"),
    [(1.0, [True] * 4 + [True] * 2), (0.5, [True, True, False, False] + [True, False])],
)
def test_units_reach_both_hires_passes_with_their_window_in_each(
    engine: Engine,
    store: InputImages,
    tiny_model_dir: Path,
    tiny_controlnet_dir: Path,
    residual_spy: Any,
    upscaler: str,
    end: float,
    receives: list[bool],
) -> None:
    zeros = residual_spy(tiny_controlnet_dir, tiny_model_dir)
    unit = ControlUnit(str(tiny_controlnet_dir), store.put(scribble()), 1.0, 0.0, end)
    request = request_for(
        tiny_model_dir, (unit,), hires_upscaler=upscaler, hires_scale=1.5, hires_steps=4,
        hires_denoise=0.5,
    )  # fmt: skip  # the second pass: img2img at 96x96, 4 steps x 0.5 = 2 run
    result = engine.generate(request, inputs=store)
    assert result.images[0].size == (96, 96)
    assert [not zero for zero in zeros] == receives


def test_a_control_image_of_another_size_is_fitted_like_the_input(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tiny_controlnet_dir: Path
) -> None:
    big = scribble(128, 128, seed=8)
    small = big.resize((64, 64), Image.Resampling.LANCZOS)
    units = [ControlUnit(str(tiny_controlnet_dir), store.put(image)) for image in (big, small)]
    results = [
        engine.generate(request_for(tiny_model_dir, (unit,)), inputs=store) for unit in units
    ]
    assert np.array_equal(np.array(results[0].images[0]), np.array(results[1].images[0]))


def test_a_rerun_of_the_saved_request_is_identical(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tiny_controlnet_dir: Path
) -> None:
    unit = ControlUnit(
        str(tiny_controlnet_dir), store.put(scribble()), 0.7, 0.1, 0.9, False, "canny"
    )
    result = engine.generate(request_for(tiny_model_dir, (unit,)), inputs=store)
    saved = GenerationRequest.from_json(result.request.to_json())
    assert saved == result.request
    assert saved.controls == (unit,)
    again = engine.generate(saved, inputs=store)
    assert np.array_equal(np.array(again.images[0]), np.array(result.images[0]))


def test_an_sd15_width_controlnet_is_refused_before_any_step(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from sd21_desktop.engine.synthetic_controlnet import save_synthetic_controlnet

    misfit = save_synthetic_controlnet(tmp_path / "sd15-cn", tiny_model_dir, cross_attention_dim=48)
    unit = ControlUnit(str(misfit), store.put(scribble()))
    steps: list[StepInfo] = []
    with pytest.raises(UserFacingError, match="cross-attention width 48") as caught:
        engine.generate(request_for(tiny_model_dir, (unit,)), on_step=steps.append, inputs=store)
    assert steps == []
    assert "SD 2.1" in (caught.value.hint or "")


def test_a_missing_control_image_fails_before_the_model_loads(
    store: InputImages, tiny_controlnet_dir: Path, tmp_path: Path
) -> None:
    unit = ControlUnit(str(tiny_controlnet_dir), "ab" * 32)
    engine = Engine()
    with pytest.raises(UserFacingError, match="control image .* is missing"):
        engine.generate(request_for(tmp_path / "no-such-model", (unit,)), inputs=store)
    assert engine.cache.loaded is None


def test_a_hub_controlnet_downloads_only_its_config_and_safetensors(
    local_hub: Any, tiny_controlnet_dir: Path, tiny_model_dir: Path
) -> None:
    from sd21_desktop.engine.controlnet_models import cached_controlnet, load_controlnet

    repo = "thibaud/controlnet-sd21-canny-diffusers"
    local_hub.add_repo(repo, tiny_controlnet_dir)
    assert cached_controlnet(repo) is None
    loaded = Engine().load(str(tiny_model_dir))
    unet = loaded.pipeline.unet
    with pytest.raises(UserFacingError, match="not in the Hugging Face cache"):
        load_controlnet(repo, unet, loaded.dtype, loaded.device, allow_download=False)
    net = load_controlnet(repo, unet, loaded.dtype, loaded.device)
    folder = cached_controlnet(repo)
    assert folder is not None
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
    ]
    local = load_controlnet(str(tiny_controlnet_dir), unet, loaded.dtype, loaded.device)
    for (name, value), (_, other) in zip(
        net.state_dict().items(), local.state_dict().items(), strict=True
    ):
        assert bool((value == other).all()), name


def test_a_single_safetensors_file_gives_the_folders_image(
    engine: Engine, store: InputImages, tiny_model_dir: Path, tiny_controlnet_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    import shutil

    single = tmp_path / "my-controlnet.safetensors"
    shutil.copy(tiny_controlnet_dir / "diffusion_pytorch_model.safetensors", single)
    control = store.put(scribble(seed=9))
    results = [
        engine.generate(request_for(tiny_model_dir, (ControlUnit(str(m), control),)), inputs=store)
        for m in (single, tiny_controlnet_dir)
    ]
    assert np.array_equal(np.array(results[0].images[0]), np.array(results[1].images[0]))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a safetensors file")
    with pytest.raises(UserFacingError, match="could not be loaded as a ControlNet"):
        engine.generate(
            request_for(tiny_model_dir, (ControlUnit(str(broken), control),)), inputs=store
        )
