"""Modes as recipes: the stages each mode runs, in order (:func:`plan_for`).

A new mode is a new entry in :data:`RECIPES` built from existing stages (and, when it needs a new
job done, one new stage); the runner does not change. E.g. the hires fix (:mod:`..hires`) is
``[Condition(), FirstPass(), HiresUpscale(), HiresDenoise()]``.
"""

from __future__ import annotations

from collections.abc import Callable

from sd21_desktop.engine.hires import hires_stages
from sd21_desktop.engine.plan import Plan, Stage
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.stages import (
    Condition,
    Denoise,
    EstimateDepth,
    Finish,
    LoadUpscaleInput,
    PrepareInputs,
    Upscale,
)
from sd21_desktop.engine.variations import variation_latents

Recipe = Callable[[GenerationRequest], list[Stage]]


def txt2img(request: GenerationRequest) -> list[Stage]:
    if request.hires_upscaler is not None:
        return [Condition(), *hires_stages()]
    return [Condition(), Denoise("txt2img", make_latents=variation_latents)]


def img2img(request: GenerationRequest) -> list[Stage]:
    return [PrepareInputs(), Condition(), Denoise("img2img"), Finish()]


def inpaint(request: GenerationRequest) -> list[Stage]:
    """The whole image, or only the mask's region (:mod:`..region`); the masked content's
    stages (:mod:`..masked_content`) before the denoise."""
    from sd21_desktop.engine.masked_content import masked_content_stages
    from sd21_desktop.engine.region import region_stages

    before, denoise = masked_content_stages(request.masked_content)
    middle: list[Stage] = [Condition(), *before, denoise]
    if request.inpaint_area == "masked":
        return region_stages(middle)
    return [PrepareInputs(), *middle, Finish()]


def depth(request: GenerationRequest) -> list[Stage]:
    return [PrepareInputs(), EstimateDepth(), Condition(), Denoise("depth"), Finish()]


def upscale(request: GenerationRequest) -> list[Stage]:
    return [LoadUpscaleInput(), Condition(), Upscale()]


RECIPES: dict[str, Recipe] = {
    "txt2img": txt2img,
    "img2img": img2img,
    "inpaint": inpaint,
    "depth": depth,
    "upscale": upscale,
}


def plan_for(request: GenerationRequest) -> Plan:
    """The plan of a request: its mode's recipe (with ControlNet's stages for control units)."""
    stages = RECIPES[request.mode](request)
    if request.controls:
        from sd21_desktop.engine.controlnet import with_control

        stages = with_control(stages)
    return Plan(stages)
