"""Variation seeds as AUTOMATIC1111 defines them (``modules/rng.py``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.variations import slerp
from sd21_desktop.errors import InvalidRequestError


def request_for(model: Path, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": "a red bicycle",
        "model": str(model),
        "seed": 5,
        "steps": 3,
        "width": 64,
        "height": 64,
        "scheduler": "euler",
    }
    values.update(changes)
    return GenerationRequest(**values)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_strength_zero_is_the_plain_seed_and_one_is_the_variation_seeds_image(
    engine: Engine, tiny_model_dir: Path
) -> None:
    plain = engine.generate(request_for(tiny_model_dir, seed=5, batch_size=2))
    zero = engine.generate(
        request_for(tiny_model_dir, batch_size=2, variation_seed=77, variation_strength=0.0)
    )
    for ours, theirs in zip(zero.images, plain.images, strict=True):
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))
    full = engine.generate(request_for(tiny_model_dir, variation_seed=77, variation_strength=1.0))
    other = engine.generate(request_for(tiny_model_dir, seed=77))
    assert np.array_equal(np.asarray(full.images[0]), np.asarray(other.images[0]))
    half = engine.generate(request_for(tiny_model_dir, variation_seed=77, variation_strength=0.5))
    assert not np.array_equal(np.asarray(half.images[0]), np.asarray(plain.images[0]))


def test_a_batch_moves_each_seed_towards_the_same_variation_seed(tiny_model_dir: Path) -> None:
    import torch

    from sd21_desktop.engine.denoise import initial_latents
    from sd21_desktop.engine.variations import variation_latents

    class Pipe:  # what initial_latents reads from a pipeline
        vae_scale_factor = 8
        _execution_device = torch.device("cpu")

        class unet:  # noqa: N801
            class config:  # noqa: N801
                in_channels = 4

    request = request_for(tiny_model_dir, batch_size=2, variation_seed=9, variation_strength=0.3)
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in request.seeds()]
    mixed = variation_latents(Pipe(), request, generators, torch.float32)
    for index, seed in enumerate((5, 6)):
        own = initial_latents(Pipe(), request, [torch.Generator().manual_seed(seed)], None)[0]
        towards = initial_latents(Pipe(), request, [torch.Generator().manual_seed(9)], None)[0]
        assert torch.equal(mixed[index], slerp(0.3, own, towards))


def a1111_slerp(weight: float, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A1111's formula written out per (channel, column) vector in float64, as its docs state it:
    normalise along dim 1, interpolate along the arc; nearly parallel → its linear blend."""
    out = np.empty_like(low)
    cosines = []
    for c in range(low.shape[0]):
        for x in range(low.shape[2]):
            a, b = low[c, :, x], high[c, :, x]
            cosines.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))))
    if np.mean(cosines) > 0.9995:
        return low * weight + high * (1 - weight)
    k = 0
    for c in range(low.shape[0]):
        for x in range(low.shape[2]):
            omega = math.acos(cosines[k])
            k += 1
            a, b = low[c, :, x], high[c, :, x]
            out[c, :, x] = (
                math.sin((1 - weight) * omega) * a + math.sin(weight * omega) * b
            ) / math.sin(omega)
    return out


@pytest.mark.parametrize("weight", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("shape", [(4, 8, 8), (2, 3, 5), (1, 2, 1)])
def test_slerp_matches_a1111_on_a_table_of_vectors(weight: float, shape: tuple[int, ...]) -> None:
    import torch

    generator = torch.Generator().manual_seed(hash(shape) % 1000)
    low = torch.randn(shape, generator=generator, dtype=torch.float64)
    high = torch.randn(shape, generator=generator, dtype=torch.float64)
    ours = slerp(weight, low, high).numpy()
    assert np.allclose(ours, a1111_slerp(weight, low.numpy(), high.numpy()), atol=1e-9)


def test_nearly_parallel_noise_takes_a1111s_linear_blend_with_its_weights() -> None:
    import torch

    low = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    high = low * 1.0001
    # A1111 weights the *first* tensor by w here (the reverse of its slerp): kept as it is.
    assert torch.allclose(slerp(0.2, low, high), low * 0.2 + high * 0.8)


def test_variation_settings_are_checked() -> None:
    with pytest.raises(InvalidRequestError, match="from 0 to 1"):
        request_for(Path("m"), variation_strength=1.5)
    with pytest.raises(InvalidRequestError, match="variation seed"):
        request_for(Path("m"), variation_seed=-1)
    with pytest.raises(InvalidRequestError, match="apply to txt2img"):
        request_for(Path("m"), mode="img2img", init_image="0" * 64, variation_strength=0.5)
