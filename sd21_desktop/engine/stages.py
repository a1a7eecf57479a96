"""The stages that modes are made of (see :mod:`sd21_desktop.engine.plan` for what a stage is).

=================  ============================================================================
stage              job
=================  ============================================================================
PrepareInputs      read the input image (mask, depth map) and fit them to the processing size
LoadUpscaleInput   read the upscaler's input as it is (refusing one too large)
EstimateDepth      depth mode without a depth map: estimate one, store it, name it in the request
Condition          prompt → embeddings (a swappable encoder, :mod:`..conditioning`)
Denoise            one diffusers pipeline call: txt2img, img2img, inpaint or depth
ResultAsInput      the results so far become the next denoise's input (chained passes)
Upscale            the x4 upscaler, in one piece or in blended tiles (:mod:`..upscale`)
Finish             the results back to the input's size, pasted through the mask
=================  ============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sd21_desktop.engine.conditioning import PromptEncoder
from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.denoise import LatentMaker, count_steps, initial_latents, run_pipeline
from sd21_desktop.engine.plan import Stage, Work
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import UserFacingError


class PrepareInputs(Stage):
    name = "prepare inputs"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        from sd21_desktop.engine.imageprep import prepare_inputs

        assert work.inputs is not None  # the runner gives input modes a store
        prepared = prepare_inputs(work.request, work.inputs)
        return work.but(prepared=prepared, init=(prepared.image,))


class LoadUpscaleInput(Stage):
    name = "prepare inputs"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        from sd21_desktop.engine.imageprep import load_upscale_input

        assert work.inputs is not None
        return work.but(init=(load_upscale_input(work.request, work.inputs),))


class EstimateDepth(Stage):
    """Only when the request names no depth map; the map goes to the inputs folder and its id
    into the request, so saving the result makes it re-runnable without the estimator."""

    name = "estimate depth"

    def run(self, work: Work, context: StageContext) -> Work:
        from sd21_desktop.engine.depth import estimate_depth

        prepared = work.prepared
        if prepared is None or prepared.depth is not None:
            return work
        assert work.inputs is not None
        context.status("Estimating depth…")
        estimated = estimate_depth(context.pipeline("depth"), prepared.original)
        updated = replace(prepared, notices=list(prepared.notices))  # fit_depth may add one
        updated.depth = updated.fit_depth(estimated)
        depth_map = work.inputs.put(estimated)
        return work.but(prepared=updated, request=work.request.replace(depth_map=depth_map))


class Condition(Stage):
    """Encode the prompt once for every denoise of the plan; ``encoder`` is swappable.

    The default reads AUTOMATIC1111's prompt syntax, applies the prompt's LoRAs and finds its
    embeddings in the context's folders (:func:`..prompts.syntax_encoder`); for a prompt
    without syntax it gives exactly diffusers' ``encode_prompt``
    (:func:`..conditioning.encode_prompt`). An encoder may return the request with what it used
    recorded, and notices.
    """

    name = "condition"

    def __init__(self, encoder: PromptEncoder | None = None) -> None:
        self.encoder = encoder

    def run(self, work: Work, context: StageContext) -> Work:
        from sd21_desktop.engine.prompts import syntax_encoder

        pipeline = context.loaded.pipeline_for(work.request.mode)
        encoder = self.encoder or syntax_encoder(context.networks)
        embeddings = encoder(pipeline, work.request)
        request = embeddings.request or work.request
        return work.but(embeddings=embeddings, request=request).noting(*embeddings.notices)


ArgumentBuilder = Callable[[Work, Any, list[Any]], dict[str, Any]]
"""``(work, pipeline, generators) -> the mode's own pipeline arguments``."""


def _common_arguments(work: Work, generators: list[Any]) -> dict[str, Any]:
    request = work.request
    per_image = len(work.init) > 1  # an earlier stage's results, one per seed
    assert work.embeddings is not None, "a Condition stage must come before Denoise"
    embeddings = work.embeddings.repeat(len(work.init)) if per_image else work.embeddings
    return {
        **embeddings.arguments(),
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance_scale,
        "num_images_per_prompt": 1 if per_image else request.batch_size,
        "generator": generators if len(generators) > 1 else generators[0],
    }


def _start_image(work: Work) -> Any:
    if not work.init:
        raise UserFacingError(f"{work.request.mode} needs an input image.")
    return work.init[0] if len(work.init) == 1 else list(work.init)


def _depth_map(work: Work) -> Any:
    from sd21_desktop.engine.depth import depth_tensor

    if work.prepared is None or work.prepared.depth is None:
        raise UserFacingError("depth needs a depth map.")
    return depth_tensor(work.prepared.depth)


def _mask(work: Work) -> Any:
    if work.prepared is None or work.prepared.mask is None:
        raise UserFacingError("inpaint needs a mask.")
    return work.prepared.mask


class Denoise(Stage):
    """One pipeline call of ``kind`` (txt2img, img2img, inpaint, depth) with the plan's
    embeddings, generators and step callback, plus ``work.pipeline_arguments``."""

    name = "denoise"

    def __init__(self, kind: str = "txt2img", make_latents: LatentMaker = initial_latents) -> None:
        if kind not in ("txt2img", "img2img", "inpaint", "depth"):
            raise ValueError(f"no denoise of kind {kind!r}")
        self.kind = kind
        self.make_latents = make_latents

    def planned_steps(self, work: Work, context: StageContext) -> int:
        strength = None if self.kind == "txt2img" else work.request.strength
        return count_steps(context.scheduler(), work.request.steps, strength)

    def arguments(self, work: Work, pipeline: Any, generators: list[Any]) -> dict[str, Any]:
        """The pipeline arguments of this kind of denoise (see diffusers' pipelines)."""
        request = work.request
        if self.kind == "txt2img":
            dtype = work.embeddings.prompt.dtype if work.embeddings is not None else None
            latents = self.make_latents(pipeline, request, generators, dtype)
            return {"width": request.width, "height": request.height, "latents": latents}
        arguments = {"image": _start_image(work), "strength": request.strength}
        if self.kind == "depth":
            arguments["depth_map"] = _depth_map(work)
        elif self.kind == "inpaint":
            arguments.update(mask_image=_mask(work), width=request.width, height=request.height)
        return arguments

    def call(self, work: Work, context: StageContext, output_type: str = "np") -> Any:
        """The pipeline call: decoded pixels, or the latents with ``output_type="latent"``."""
        pipeline = context.pipeline(self.kind)
        generators = context.generators(work.seeds)
        arguments = {
            **_common_arguments(work, generators),
            **self.arguments(work, pipeline, generators),
            **work.pipeline_arguments,
            "output_type": output_type,
        }
        for addition in work.additions:  # e.g. ControlNet units
            pipeline, added = addition.apply(pipeline, self.kind, work)
            arguments.update(added)
        context.status("Generating…")
        return run_pipeline(pipeline, arguments, context)

    def run(self, work: Work, context: StageContext) -> Work:
        return work.but(images=context.to_images(self.call(work, context)))


class ResultAsInput(Stage):
    """The results so far (one per seed) become what the next denoise starts from."""

    name = "use result"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        return work.but(init=work.images, images=())


class Upscale(Stage):
    """The x4 upscaler on each seed's input: one call if it fits in a tile, else tile by tile."""

    name = "upscale"

    def _tiles(self, work: Work) -> int:
        from sd21_desktop.engine.upscale import tile_count

        request = work.request
        width, height = work.init[0].size if work.init else (request.width, request.height)
        return tile_count(width, height, request.tile_size, request.tile_overlap)

    def planned_steps(self, work: Work, context: StageContext) -> int:
        # The upscaler reports one legacy callback per inference step (even with Heun).
        return work.request.steps * self._tiles(work) * len(work.seeds)

    def out_of_memory(self, request: GenerationRequest) -> tuple[str, str]:
        return (
            f"upscaling tiles of {request.tile_size} px",
            "Lower the tile size, or turn on attention slicing or CPU offload in Settings.",
        )

    def run(self, work: Work, context: StageContext) -> Work:
        from sd21_desktop.engine.upscale import TileRunner, describe_tiling, upscale_image

        request = work.request
        pipeline = context.pipeline("upscale")
        assert work.embeddings is not None, "a Condition stage must come before Upscale"
        tiles, done = self._tiles(work), [0]

        def name_tile() -> None:
            done[0] += 1
            if tiles > 1:
                context.progress.relabel(f"upscale tile {(done[0] - 1) % tiles + 1}/{tiles}")

        def call(arguments: dict[str, Any]) -> Any:
            return _checked(context, run_pipeline(pipeline, arguments, context))

        runner = TileRunner(
            call,
            {
                **work.embeddings.arguments(),
                "num_inference_steps": request.steps,
                "guidance_scale": request.guidance_scale,
                "noise_level": request.noise_level,
                **work.pipeline_arguments,
            },
            generator=lambda seed: context.generators([seed])[0],
            before_piece=name_tile,
        )
        context.status("Upscaling…")
        images = []
        for index, seed in enumerate(work.seeds):
            image = work.init[index] if len(work.init) > 1 else work.init[0]
            images.append(
                upscale_image(runner, image, seed, request.tile_size, request.tile_overlap)
            )
        width, height = work.init[0].size
        notice = describe_tiling(width, height, request.tile_size, request.tile_overlap)
        return work.but(images=tuple(images)).noting(notice or "")


def _checked(context: StageContext, pixels: Any) -> Any:
    context.refuse_nan(pixels)
    return pixels


class Finish(Stage):
    """Bring each result back to the input's size and paste it through the mask."""

    name = "finish"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        if work.prepared is None:
            return work
        prepared = work.prepared
        finished = tuple(prepared.finish(image) for image in work.images)
        return work.but(images=finished).noting(*prepared.notices)
