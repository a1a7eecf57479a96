"""The hires fix: txt2img, the result enlarged, then img2img of it at the larger size.

The recipe (:func:`hires_stages`, appended to txt2img's) is

``Condition → FirstPass (txt2img) → HiresUpscale → HiresDenoise (img2img)``

The second pass is exactly ``generate --mode img2img`` of the enlarged first pass with the same
prompt, seed(s), scheduler and guidance, ``strength = hires_denoise`` and ``steps = hires_steps``
(diffusers' img2img semantics: it runs ``int(steps * strength)`` of them). Upscalers:

* ``lanczos`` — the decoded first pass resized with PIL's Lanczos filter;
* ``latent`` — the first pass's latents (diffusers ``output_type="latent"``) resized bilinearly
  without antialiasing, AUTOMATIC1111's default "Latent" upscale, and given to img2img as
  latents (no VAE round trip);
* ``x4`` — the decoded first pass through the SD2 x4 upscaler (``hires_upscaler_model``) exactly
  as ``generate --mode upscale`` of it with the same prompt, seed(s), steps, guidance, scheduler,
  noise level and tiles (:func:`x4_request`), then Lanczos to the target. The upscaler is held
  beside the main model in the engine's cache (see ``PipelineCache``), not swapped for it.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.plan import Stage, Work
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.stages import Condition, Denoise, Upscale
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


def x4_request(request: GenerationRequest, first: Image.Image) -> GenerationRequest:
    """What the ``x4`` upscaler runs as: upscale mode of the first pass ``first`` (its size) with
    the x4 model and the request's prompt, seed, steps, guidance, scheduler, noise level and
    tiles."""
    from sd21_desktop.engine.inputs import content_hash

    return request.replace(
        mode="upscale",
        model=request.hires_upscaler_model,
        init_image=content_hash(first),
        hires_upscaler=None,
        variation_strength=0.0,
    )


class HiresUpscale(Stage):
    """The first pass enlarged to the hires size: images (Lanczos, or the x4 upscaler then
    Lanczos) or latents (bilinear)."""

    name = "hires upscale"
    needs_model = False

    def planned_steps(self, work: Work, context: StageContext) -> int:
        from sd21_desktop.engine.upscale import tile_count

        request = work.request
        if request.hires_upscaler != "x4":
            return 0
        tiles = tile_count(request.width, request.height, request.tile_size, request.tile_overlap)
        return request.steps * tiles * len(work.seeds)  # as Upscale plans for the first pass

    def run(self, work: Work, context: StageContext) -> Work:
        width, height = work.request.hires_size()
        if work.latents is not None:
            return work.but(latents=resize_latents(work.latents, width, height), images=())
        images = work.images
        if work.request.hires_upscaler == "x4":
            images = _x4(work, context)
        lanczos = Image.Resampling.LANCZOS
        resized = tuple(image.resize((width, height), lanczos) for image in images)
        return work.but(init=resized, images=())


def _x4(work: Work, context: StageContext) -> tuple[Image.Image, ...]:
    """Each first-pass image through the x4 upscaler with its own seed (upscale mode's stages,
    :class:`Condition` and :class:`Upscale`, on the upscaler's own text encoder)."""
    request = x4_request(work.request, work.images[0])
    upscaler = context.for_companion(request)
    upscaling = Work(request=request, seeds=work.seeds, inputs=work.inputs, init=work.images)
    upscaled = Upscale().run(Condition().run(upscaling, upscaler), upscaler)
    return upscaled.images


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
