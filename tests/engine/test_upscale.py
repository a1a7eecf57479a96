"""x4 upscaling: parity with diffusers untiled, tiles that are 4x, seamless, bounded and exact."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import build_scheduler
from sd21_desktop.engine.upscale import (
    SCALE,
    feather,
    tile_boxes,
    tile_seed,
    tile_spans,
    upscale_image,
)
from sd21_desktop.errors import GenerationCancelled, UserFacingError

PROMPT = "a sharp photo of a fox"
NEGATIVE = "blurry"


def picture(width: int, height: int, seed: int = 0, noise: float = 12.0) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    pixels = base + rng.normal(0, noise, base.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture
def store(tmp_path: Path) -> InputImages:
    return InputImages(tmp_path / "inputs")


def upscale_request(model: Path, init_image: str, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": PROMPT,
        "negative_prompt": NEGATIVE,
        "model": str(model),
        "mode": "upscale",
        "init_image": init_image,
        "seed": 42,
        "steps": 3,
        "guidance_scale": 6.0,
        "scheduler": "ddim",
        "noise_level": 30,
    }
    values.update(changes)
    return GenerationRequest(**values)


def diffusers_upscale(folder: Path, image: Image.Image, seed: int, **kwargs: Any) -> np.ndarray:
    import diffusers
    import torch

    pipe = diffusers.StableDiffusionUpscalePipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = build_scheduler("ddim", pipe.scheduler.config)
    out = pipe(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        image=image,
        generator=torch.Generator("cpu").manual_seed(seed),
        **kwargs,
    )
    return np.asarray(out.images[0])


def seam_ratios(
    pixels: np.ndarray, borders_x: list[int], borders_y: list[int]
) -> tuple[float, float]:
    """Mean |difference| of adjacent columns (rows) across tile borders / the same inside.

    A border at output column ``b`` is the step from column ``b - 1`` to ``b``.
    """
    values = pixels.astype(np.float64)
    dx = np.abs(np.diff(values, axis=1)).mean(axis=(0, 2))
    dy = np.abs(np.diff(values, axis=0)).mean(axis=(1, 2))
    bx, by = [b - 1 for b in borders_x], [b - 1 for b in borders_y]
    return (
        float(dx[bx].mean() / np.delete(dx, bx).mean()),
        float(dy[by].mean() / np.delete(dy, by).mean()),
    )


def borders(length: int, tile: int, overlap: int) -> list[int]:
    """Output columns (rows) where a tile starts or ends inside the image."""
    spans = tile_spans(length, tile, overlap)
    inner = {start for start, _ in spans if start > 0} | {end for _, end in spans if end < length}
    return sorted(SCALE * edge for edge in inner)


# -- untiled: diffusers' own pipeline, pixel for pixel ----------------------------------------


def test_untiled_upscale_equals_diffusers_upscale_pipeline(
    engine: Engine, store: InputImages, tiny_upscale_model_dir: Path
) -> None:
    image = picture(32, 32)
    request = upscale_request(tiny_upscale_model_dir, store.put(image), batch_size=2)
    result = engine.generate(request, inputs=store)
    assert result.notices == []  # one tile: nothing to say
    assert result.seeds == [42, 43]
    for got, seed in zip(result.images, result.seeds, strict=True):
        assert got.size == (128, 128)
        want = diffusers_upscale(
            tiny_upscale_model_dir,
            image,
            seed,
            num_inference_steps=3,
            guidance_scale=6.0,
            noise_level=30,
        )
        assert np.array_equal(np.asarray(got), want)


def test_an_odd_size_is_padded_and_the_output_is_exactly_4x(
    engine: Engine, store: InputImages, tiny_upscale_model_dir: Path
) -> None:
    image = picture(30, 21, seed=1)
    result = engine.generate(
        upscale_request(tiny_upscale_model_dir, store.put(image), steps=2), inputs=store
    )
    assert result.images[0].size == (120, 84)
    padded = np.pad(np.asarray(image), ((0, 3), (0, 2), (0, 0)), mode="edge")
    want = diffusers_upscale(
        tiny_upscale_model_dir,
        Image.fromarray(padded),
        42,
        num_inference_steps=2,
        guidance_scale=6.0,
        noise_level=30,
    )
    assert np.array_equal(np.asarray(result.images[0]), want[:84, :120])


# -- tiles -----------------------------------------------------------------------------------


def test_tiled_upscale_is_4x_seamless_bounded_and_reruns_exactly(
    store: InputImages, tiny_upscale_model_dir: Path
) -> None:
    engine = Engine()
    loaded = engine.load(str(tiny_upscale_model_dir))
    pipe = loaded.pipeline_for("upscale")
    unet_sizes: list[tuple[int, int]] = []
    decode_sizes: list[tuple[int, int]] = []
    unet_forward, vae_decode = pipe.unet.forward, pipe.vae.decode

    def spy_unet(sample: Any, *args: Any, **kwargs: Any) -> Any:
        unet_sizes.append(tuple(sample.shape[-2:]))
        return unet_forward(sample, *args, **kwargs)

    def spy_decode(latents: Any, *args: Any, **kwargs: Any) -> Any:
        decode_sizes.append(tuple(latents.shape[-2:]))
        return vae_decode(latents, *args, **kwargs)

    pipe.unet.forward, pipe.vae.decode = spy_unet, spy_decode
    image = picture(56, 40, seed=2)  # 2 x 2 tiles of 32 with 8 px overlap
    request = upscale_request(
        tiny_upscale_model_dir, store.put(image), steps=2, tile_size=32, tile_overlap=8
    )
    steps: list[Any] = []
    try:
        result = engine.generate(request, on_step=steps.append, inputs=store)
    finally:
        del pipe.unet.forward, pipe.vae.decode
    out = np.asarray(result.images[0])
    assert out.shape == (160, 224, 3)  # exactly 4x
    assert result.notices == [
        "Upscaled 56x40 to 224x160 in 4 tiles of 32 px with 8 px overlap (feathered)."
    ]
    # Memory: the UNet and the VAE decoder never see more than one tile (32 x 32 latents; the
    # x4 upscaler's latents have the input's size), whatever the image size.
    assert len(decode_sizes) == 4
    assert max(h for h, _ in unet_sizes) <= 32
    assert max(w for _, w in unet_sizes) <= 32
    assert set(decode_sizes) == {(32, 32)}
    assert [(s.step, s.total) for s in steps] == [(i, 8) for i in range(1, 9)]
    # No seams: adjacent-pixel differences across tile borders are like those inside tiles.
    ratio_x, ratio_y = seam_ratios(out, borders(56, 32, 8), borders(40, 32, 8))
    assert ratio_x <= 1.5
    assert ratio_y <= 1.5
    # Each tile has its own seed (seed, then derived ones): the tiles are not copies.
    assert len({tile_seed(42, index) for index in range(4)}) == 4
    # Re-run: pixel-identical, on a fresh engine.
    again = Engine().generate(result.request, inputs=store).images[0]
    assert np.array_equal(np.asarray(again), out)


def _fake_piece(piece: Image.Image, seed: int) -> np.ndarray:
    """A smooth 4x upscale plus a brightness offset that differs from tile to tile: what makes
    seams visible when tiles are pasted without blending."""
    width, height = piece.size
    smooth = piece.resize((width * SCALE, height * SCALE), Image.Resampling.BILINEAR)
    offset = ((seed % 5) - 2) * 0.04
    return np.clip(np.asarray(smooth, dtype=np.float32) / 255 + offset, 0, 1)


def test_feathered_blending_hides_seams_that_pasting_shows() -> None:
    image = picture(80, 64, seed=3)
    blended = np.asarray(upscale_image(_fake_piece, image, 7, tile_size=32, tile_overlap=8))
    assert blended.shape == (256, 320, 3)
    ratio_x, ratio_y = seam_ratios(blended, borders(80, 32, 8), borders(64, 32, 8))
    assert ratio_x <= 1.5
    assert ratio_y <= 1.5
    # The same tiles pasted side by side (no overlap, no feather) show their seams.
    pasted = np.asarray(upscale_image(_fake_piece, image, 7, tile_size=32, tile_overlap=0))
    hard_x, hard_y = seam_ratios(pasted, borders(80, 32, 0), borders(64, 32, 0))
    assert max(hard_x, hard_y) > 3.0


def _blend_peak(height: int) -> tuple[int, int]:
    """Peak traced memory of a fake tiled upscale of a 64 x ``height`` image, and the bytes of
    its 8-bit output."""
    image = picture(64, height, seed=4, noise=0.0)
    tracemalloc.start()
    try:
        result = upscale_image(_fake_piece, image, 1, tile_size=32, tile_overlap=8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == (64 * SCALE, height * SCALE)
    return peak, 64 * SCALE * height * SCALE * 3


def test_blend_memory_is_one_row_of_tiles_whatever_the_height() -> None:
    """Besides the 8-bit output itself, blending holds float buffers for one row of tiles
    (4 * tile_size output rows, 4 bytes x 3 channels each): a few such windows, the same for an
    image twice as tall, and far below one float copy of the whole output."""
    window = (32 * SCALE) * (64 * SCALE) * 3 * 4
    peak_short, output_short = _blend_peak(512)
    peak_tall, output_tall = _blend_peak(1024)
    for peak, output in ((peak_short, output_short), (peak_tall, output_tall)):
        assert peak - output < 6 * window
    assert peak_tall - output_tall < 1.25 * (peak_short - output_short)
    assert peak_tall - output_tall < output_tall * 4 / 4  # < 1/4 of a float copy of the output


def test_tiles_cover_the_image_and_feathers_sum_to_one_in_the_overlap() -> None:
    assert tile_spans(100, 128, 32) == [(0, 100)]
    assert tile_spans(128, 128, 32) == [(0, 128)]
    assert tile_spans(300, 128, 32) == [(0, 128), (96, 224), (172, 300)]
    boxes = tile_boxes(300, 200, 128, 32)
    assert len(boxes) == 6
    assert boxes[0] == (0, 0, 128, 128)
    assert boxes[-1] == (172, 72, 300, 200)
    left, right = feather(0, 128, 300, 32), feather(96, 224, 300, 32)
    overlap = slice(96 * SCALE, 128 * SCALE)
    total = left[overlap] + right[: (128 - 96) * SCALE]
    assert np.allclose(total, 1.0)
    assert left[0] == 1.0  # the image's own border keeps full weight
    assert 0 < right[0] < 0.01
    assert tile_seed(5, 0) == 5
    assert len({tile_seed(seed, index) for seed in range(8) for index in range(64)}) == 8 * 64


def test_tile_seeds_stay_in_range_and_keep_the_32_bit_scheme_below_2_to_the_32() -> None:
    # Below 2^32 the tile seeds are what they were before seeds became 64-bit (old upscales
    # re-run identically); above, they wrap at 2^64 and stay valid generator seeds.
    assert tile_seed(2**32 - 1, 1) == (2**32 - 1 + 0x9E3779B9) % 2**32
    assert tile_seed(2**64 - 1, 0) == 2**64 - 1
    assert tile_seed(2**64 - 1, 1) == 0x9E3779B9 - 1
    assert tile_seed(2**63, 3) == 2**63 + 3 * 0x9E3779B9
    big = [tile_seed(2**64 - 1 - seed, index) for seed in range(8) for index in range(64)]
    assert len(set(big)) == len(big)
    assert all(0 <= seed < 2**64 for seed in big)


# -- the engine around upscale ---------------------------------------------------------------


def test_cancel_during_tiles(
    engine: Engine, store: InputImages, tiny_upscale_model_dir: Path
) -> None:
    seen: list[int] = []
    request = upscale_request(
        tiny_upscale_model_dir, store.put(picture(56, 40)), steps=2, tile_size=32, tile_overlap=8
    )
    with pytest.raises(GenerationCancelled):
        engine.generate(
            request,
            on_step=lambda info: seen.append(info.step),
            should_cancel=lambda: len(seen) >= 3,
            inputs=store,
        )
    assert seen == [1, 2, 3]


def test_upscaler_refuses_other_modes_and_txt2img_models_refuse_upscale(
    engine: Engine, store: InputImages, tiny_upscale_model_dir: Path, tiny_model_dir: Path
) -> None:
    init = store.put(picture(32, 32))
    with pytest.raises(
        UserFacingError, match="is the x4 upscaler .* only upscale, not run img2img"
    ):
        engine.generate(
            GenerationRequest(
                prompt="x", model=str(tiny_upscale_model_dir), mode="img2img", init_image=init
            ),
            inputs=store,
        )
    with pytest.raises(UserFacingError) as caught:
        engine.generate(upscale_request(tiny_model_dir, init), inputs=store)
    assert "upscale needs the x4 upscaler" in str(caught.value)
    assert "sd2-community/stable-diffusion-x4-upscaler" in str(caught.value)


def test_a_missing_or_oversized_input_fails_before_the_model_loads(
    store: InputImages, tiny_upscale_model_dir: Path
) -> None:
    engine = Engine()
    with pytest.raises(UserFacingError, match="gone from"):
        engine.generate(upscale_request(tiny_upscale_model_dir, "e" * 64), inputs=store)
    huge = store.put(Image.new("RGB", (2056, 16), (9, 9, 9)))
    with pytest.raises(UserFacingError, match="at most 2048 px per side"):
        engine.generate(upscale_request(tiny_upscale_model_dir, huge), inputs=store)
    assert engine.cache.loads == 0
