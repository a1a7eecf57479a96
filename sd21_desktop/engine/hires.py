"""The hires fix: txt2img, the result enlarged, then img2img of it at the larger size.

The recipe (:func:`hires_stages`, appended to txt2img's) is

``Condition → FirstPass (txt2img) → HiresUpscale → HiresDenoise (img2img)``

The second pass is exactly ``generate --mode img2img`` of the enlarged first pass with the same
prompt, seed(s), scheduler and guidance, ``strength = hires_denoise`` and ``steps = hires_steps``
(diffusers' img2img semantics: it runs ``int(steps * strength)`` of them). Upscalers:

* ``lanczos`` — the decoded first pass resized with PIL's Lanczos filter;
* ``latent`` — the first pass's latents (diffusers ``output_type="latent"``) resized bilinearly
  without antialiasing, AUTOMATIC1111's default "Latent" upscale, and given to img2img as
  latents (no VAE round trip).
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.plan import Stage, Work
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.stages import Denoise
from sd21_desktop.engine.variations import variation_latents


def second_pass_request(request: GenerationRequest) -> GenerationRequest:
    """The request the second pass runs as: the target size, hires steps and denoise."""
    width, height = request.hires_size()
    return request.replace(
        width=width,
        height=height,
        steps=request.hires_steps or request.steps,
        strength=request.hires_denoise,
        hires_upscaler=None,
    )


class FirstPass(Denoise):
    """txt2img (with variation noise); keeps the latents when the latent upscaler follows."""

    def __init__(self) -> None:
        super().__init__("txt2img", make_latents=variation_latents)

    def run(self, work: Work, context: StageContext) -> Work:
        if work.request.hires_upscaler != "latent":
            return super().run(work, context)
        return work.but(latents=self.call(work, context, output_type="latent"))


class HiresUpscale(Stage):
    """The first pass enlarged to the hires size: images (Lanczos) or latents (bilinear)."""

    name = "hires upscale"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        width, height = work.request.hires_size()
        if work.latents is not None:
            return work.but(latents=resize_latents(work.latents, width, height), images=())
        lanczos = Image.Resampling.LANCZOS
        resized = tuple(image.resize((width, height), lanczos) for image in work.images)
        return work.but(init=resized, images=())


def resize_latents(latents: Any, width: int, height: int) -> Any:
    """AUTOMATIC1111's "Latent" upscale: bilinear, no antialias, to the target's latent size."""
    from torch.nn.functional import interpolate

    size = (height // 8, width // 8)
    return interpolate(latents, size=size, mode="bilinear", antialias=False)


class HiresDenoise(Denoise):
    """The second pass: img2img of the enlarged first pass as :func:`second_pass_request`."""

    def __init__(self) -> None:
        super().__init__("img2img")

    def _per_image(self, work: Work, context: StageContext) -> int:
        return super().planned_steps(work.but(request=second_pass_request(work.request)), context)

    def planned_steps(self, work: Work, context: StageContext) -> int:
        return self._per_image(work, context) * len(work.seeds)

    def arguments(self, work: Work, pipeline: Any, generators: list[Any]) -> dict[str, Any]:
        if work.latents is None:
            return super().arguments(work, pipeline, generators)
        return {"image": work.latents, "strength": work.request.strength}

    def run(self, work: Work, context: StageContext) -> Work:
        # Image by image, each with its own seed: exactly `generate --mode img2img` of each
        # first-pass image (a batched call differs in the last bit of a few pixels).
        second = second_pass_request(work.request)
        images: list[Image.Image] = []
        per_image, label = self._per_image(work, context), context.progress.label
        for index, seed in enumerate(work.seeds):
            context.progress.begin(label, per_image)  # the bar's total already counts them all
            one = work.but(
                request=second.replace(seed=seed, batch_size=1),
                seeds=(seed,),
                init=work.init[index : index + 1],
                latents=None if work.latents is None else work.latents[index : index + 1],
            )
            images.extend(context.to_images(self.call(one, context)))
        return work.but(images=tuple(images), latents=None, init=())


def hires_stages() -> list[Stage]:
    """What the hires fix adds after txt2img's Condition stage."""
    return [FirstPass(), HiresUpscale(), HiresDenoise()]
