"""What the masked area starts from: AUTOMATIC1111's "Masked content".

* ``original`` — the input as it is (diffusers' own inpaint call; nothing here runs).
* ``fill`` — before encoding, the masked area is filled with colours from its surroundings
  (:func:`fill_masked`): the unmasked pixels, as premultiplied RGBA with the inverted mask as
  alpha, blurred at radii 256, 64, 16, 16, 4 ×4, 2, 2 and 0 and composited in that order, so the
  coarse blurs fill the hole and the finer ones restore detail near its edge.
* ``latent-noise`` — ``fill``, then after the VAE encode the masked latent cells are replaced by
  unit Gaussian noise drawn from a fresh generator of the image's seed (the first numbers of that
  seed, as AUTOMATIC1111's ``create_random_tensors``).
* ``latent-nothing`` — ``fill``, then the masked latent cells are set to 0.

AUTOMATIC1111 fills for every choice but ``original`` and changes the latents only where the mask
resized to the latent grid (bicubic) *rounds* to 1 (:func:`latent_mask`); so do we. The latents
are changed where diffusers' inpaint pipeline encodes the start image: the first
``_encode_vae_image`` of the call (the inpainting model's masked-image encode comes after it and
is left alone). With the inpainting model at strength 1 diffusers starts from pure noise and never
encodes the start image, so the latent choices change nothing there (as the issue scopes them:
masked img2img, and the inpainting model with strength < 1).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.plan import Stage, Work
from sd21_desktop.engine.stages import Denoise

FILL_LAYERS: tuple[tuple[int, int], ...] = ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1))
"""(blur radius, times composited), coarse to fine."""


def fill_masked(image: Image.Image, mask: Image.Image) -> Image.Image:
    """``image`` with its masked area (``mask`` L, 255 = repaint) filled from the surroundings."""
    keep = ImageOps.invert(mask.convert("L"))
    known = Image.new("RGBa", image.size)
    known.paste(image.convert("RGBA").convert("RGBa"), mask=keep)
    result = Image.new("RGBA", image.size)
    for radius, times in FILL_LAYERS:
        layer = known.filter(ImageFilter.GaussianBlur(radius)).convert("RGBA")
        for _ in range(times):
            result.alpha_composite(layer)
    return result.convert("RGB")


def latent_mask(mask: Image.Image, width: int, height: int) -> np.ndarray:
    """The mask on the latent grid (``height`` x ``width``), 0 or 1: bicubic, then rounded."""
    small = mask.convert("RGB").resize((width, height), Image.Resampling.BICUBIC)
    return np.around(np.asarray(small, dtype=np.float32)[..., 0] / 255.0)


def seed_noise(shape: tuple[int, ...], seeds: tuple[int, ...] | list[int]) -> Any:
    """One ``shape`` tensor of unit noise per seed, each from a fresh CPU generator."""
    import torch

    return torch.stack(
        [torch.randn(shape, generator=torch.Generator("cpu").manual_seed(s)) for s in seeds]
    )


def change_latents(latents: Any, mask: np.ndarray, content: str, seeds: tuple[int, ...]) -> Any:
    """The encoded start latents (1 or one per seed) with the masked cells replaced."""
    import torch

    if latents.shape[0] == 1 and len(seeds) > 1:
        latents = latents.repeat(len(seeds), 1, 1, 1)
    keep = torch.from_numpy(1.0 - mask).to(latents.device, latents.dtype)
    changed = latents * keep
    if content == "latent-noise":
        noise = seed_noise(tuple(latents.shape[1:]), seeds).to(latents.device, latents.dtype)
        changed = changed + noise * (1 - keep)
    return changed


class FillMasked(Stage):
    """Fill the masked area of the start image (all choices but ``original``)."""

    name = "fill mask"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        assert work.prepared is not None
        assert work.prepared.mask is not None
        mask = work.prepared.mask
        return work.but(init=tuple(fill_masked(image, mask) for image in work.init))


class LatentContentDenoise(Denoise):
    """The inpaint denoise with the start image's latents changed (latent noise / nothing)."""

    def __init__(self, content: str) -> None:
        super().__init__("inpaint")
        self.content = content

    def run(self, work: Work, context: StageContext) -> Work:
        assert work.prepared is not None
        assert work.prepared.mask is not None
        pipeline = context.loaded.pipeline_for("inpaint")
        scale = pipeline.vae_scale_factor
        size = work.prepared.mask.size
        mask = latent_mask(work.prepared.mask, size[0] // scale, size[1] // scale)
        encode = pipeline._encode_vae_image
        first = [True]

        def encode_and_change(image: Any, generator: Any) -> Any:
            latents = encode(image=image, generator=generator)
            if not first[0]:  # the inpainting model's masked-image encode
                return latents
            first[0] = False
            return change_latents(latents, mask, self.content, work.seeds)

        pipeline._encode_vae_image = encode_and_change
        try:
            return super().run(work, context)
        finally:
            del pipeline._encode_vae_image  # back to the class's method


def masked_content_stages(content: str) -> tuple[list[Stage], Denoise]:
    """(stages before the denoise, the denoise) for a masked-content choice."""
    if content == "original":
        return [], Denoise("inpaint")
    if content == "fill":
        return [FillMasked()], Denoise("inpaint")
    return [FillMasked()], LatentContentDenoise(content)
