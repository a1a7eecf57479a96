"""AUTOMATIC1111's variation seeds ("subseeds"): txt2img's starting noise moved from the seed's
noise towards another seed's noise along a great circle.

As A1111 defines it (``modules/rng.py``: ``slerp`` and ``ImageRNG.first``): each image's noise is
drawn on its own, shape (channels, height, width); :func:`slerp` normalises along dimension 1
(the rows), so it interpolates every (channel, column) vector separately, and where the vectors
are nearly parallel (mean cosine above 0.9995) it falls back to ``low * w + high * (1 - w)`` —
A1111's weights, reversed as they are there, so that imported images re-run the same. A strength
of 0 skips the interpolation (the plain seed's noise exactly); every image of a batch (seed + i)
moves towards the same variation seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sd21_desktop.engine.denoise import initial_latents
from sd21_desktop.engine.request import GenerationRequest, random_seed

PARALLEL_LIMIT = 0.9995
"""Mean cosine above which A1111 blends linearly instead (the arc is too short to divide by)."""


def slerp(weight: float, low: Any, high: Any) -> Any:
    """A1111's spherical interpolation of two noise tensors (C, H, W) by ``weight`` (0 = low)."""
    import torch

    low_unit = low / torch.norm(low, dim=1, keepdim=True)
    high_unit = high / torch.norm(high, dim=1, keepdim=True)
    cosine = (low_unit * high_unit).sum(1)
    if cosine.mean() > PARALLEL_LIMIT:
        return low * weight + high * (1 - weight)
    angle = torch.acos(cosine)
    sine = torch.sin(angle)
    towards_low = (torch.sin((1.0 - weight) * angle) / sine).unsqueeze(1)
    towards_high = (torch.sin(weight * angle) / sine).unsqueeze(1)
    return towards_low * low + towards_high * high


def variation_latents(
    pipeline: Any, request: GenerationRequest, generators: Sequence[Any], dtype: Any
) -> Any:
    """A :data:`~sd21_desktop.engine.denoise.LatentMaker`: the plain seeds' noise, slerped
    towards the variation seed's noise by ``request.variation_strength``."""
    if not request.variation_strength:
        return initial_latents(pipeline, request, generators, dtype)
    import torch

    # A1111 draws and interpolates in float32, then hands the result to the model's dtype.
    noise = initial_latents(pipeline, request, generators, torch.float32)
    towards = [torch.Generator("cpu").manual_seed(request.variation_seed) for _ in generators]
    other = initial_latents(pipeline, request, towards, torch.float32)
    weight = request.variation_strength
    mixed = [slerp(weight, noise[i], other[i]) for i in range(noise.shape[0])]
    return torch.stack(mixed).to(dtype=dtype)


def variation_requests(
    request: GenerationRequest, seed: int, count: int, strength: float
) -> list[GenerationRequest]:
    """``count`` variations around the image of ``request`` made with ``seed``: one image each,
    that seed, a random variation seed, ``strength``. Raises InvalidRequestError for a request
    that is not txt2img."""
    return [
        request.replace(
            seed=seed, batch_size=1, variation_seed=random_seed(), variation_strength=strength
        )
        for _ in range(count)
    ]
