"""ControlNet control units as a plan addition: two stages, no branch in any mode.

:func:`with_control` puts two stages before a recipe's ``Condition`` stage when the request has
control units: :class:`ReadControlImages` (before the model loads, so a missing image fails fast)
adds a :class:`ControlAddition` to the work, and :class:`LoadControlNets` loads each unit's
ControlNet into it, refusing one made for another architecture before any step. Every later denoise
then runs diffusers' ControlNet pipeline of its kind over the same components
(``StableDiffusionControlNetPipeline``, ``…Img2ImgPipeline``, ``…InpaintPipeline``; a
``MultiControlNetModel`` for several units) with the units' images, weights
(``controlnet_conditioning_scale``), windows (``control_guidance_start``/``end``) and guess mode.

Control images are fitted to each denoise's size like the input image (``PreparedInputs
.fit_guide``: padded, resized, letterboxed, or cropped to the inpaint region), then resized to the
denoise's size if it still differs (txt2img at another size, the hires fix's second pass), so
diffusers never resizes them itself.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, replace
from typing import Any

from PIL import Image

from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.control_units import ControlUnit
from sd21_desktop.engine.plan import Stage, Work
from sd21_desktop.errors import UserFacingError

CONTROL_PIPELINES = {
    "txt2img": "StableDiffusionControlNetPipeline",
    "img2img": "StableDiffusionControlNetImg2ImgPipeline",
    "inpaint": "StableDiffusionControlNetInpaintPipeline",
}


def to_control_image(image: Image.Image) -> Image.Image:
    """RGB as a ControlNet takes it; transparent parts of a layer are black (no control)."""
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(black, rgba).convert("RGB")
    return image.convert("RGB")


def control_pipeline(base: Any, kind: str, controlnet: Any) -> Any:
    """diffusers' ControlNet pipeline of ``kind`` over ``base``'s components (no weights
    copied; the scheduler is ``base``'s fresh one)."""
    import diffusers

    pipeline_class = getattr(diffusers, CONTROL_PIPELINES[kind])
    accepted = inspect.signature(pipeline_class.__init__).parameters
    components = {name: value for name, value in base.components.items() if name in accepted}
    components.update(controlnet=controlnet, safety_checker=None, feature_extractor=None)
    pipeline = pipeline_class(**components, requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def fit_control(image: Image.Image, work: Work) -> Image.Image:
    """A control image at the size the denoise of ``work`` runs at (see the module docstring)."""
    if work.prepared is not None:
        image = work.prepared.fit_guide(image)
    size = (work.request.width, work.request.height)
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class ControlAddition:
    """The loaded units: turns each denoise into its ControlNet pipeline's call."""

    units: tuple[ControlUnit, ...]
    controlnets: tuple[Any, ...]
    images: tuple[Image.Image, ...]

    def apply(self, pipeline: Any, kind: str, work: Work) -> tuple[Any, dict[str, Any]]:
        if kind not in CONTROL_PIPELINES:
            raise UserFacingError(f"ControlNet units do not apply to {kind}.")
        images = [fit_control(image, work) for image in self.images]
        return control_pipeline(pipeline, kind, self._controlnet()), self.arguments(kind, images)

    def _controlnet(self) -> Any:
        if len(self.controlnets) == 1:
            return self.controlnets[0]
        from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

        return MultiControlNetModel(list(self.controlnets))

    def arguments(self, kind: str, images: list[Image.Image]) -> dict[str, Any]:
        """The ControlNet arguments of a call: one value per unit (plain values for one)."""

        def each(values: list[Any]) -> Any:
            return values[0] if len(values) == 1 else values

        units = self.units
        return {
            "image" if kind == "txt2img" else "control_image": each(images),
            "controlnet_conditioning_scale": each([float(u.weight) for u in units]),
            "control_guidance_start": each([float(u.start) for u in units]),
            "control_guidance_end": each([float(u.end) for u in units]),
            "guess_mode": units[0].guess_mode,
        }


class ReadControlImages(Stage):
    """The units' control images, read before the model loads (a missing one fails fast)."""

    name = "control images"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        if work.inputs is None:
            raise UserFacingError("ControlNet units need their control images' folder.")
        images = tuple(_read_image(work, unit) for unit in work.request.controls)
        return work.but(
            additions=(*work.additions, ControlAddition(work.request.controls, (), images))
        )


class LoadControlNets(Stage):
    """Load the units' ControlNets and check that they fit the model, before any step."""

    name = "load controlnet"

    def run(self, work: Work, context: StageContext) -> Work:
        from sd21_desktop.engine.controlnet_models import load_controlnet

        loaded = context.loaded
        context.status("Loading ControlNet…")
        additions = list(work.additions)
        for index, addition in enumerate(additions):
            if isinstance(addition, ControlAddition) and not addition.controlnets:
                nets = tuple(
                    load_controlnet(unit.model, loaded.pipeline.unet, loaded.dtype, loaded.device)
                    for unit in addition.units
                )
                additions[index] = replace(addition, controlnets=nets)
        return work.but(additions=tuple(additions))


def _read_image(work: Work, unit: ControlUnit) -> Image.Image:
    assert work.inputs is not None
    if not work.inputs.exists(unit.image):
        raise UserFacingError(
            f"The control image of {unit.model} ({unit.image[:12]}…) is missing from the inputs "
            "folder.",
            "Make the control image again (paint it or run its preprocessor) and re-run.",
        )
    return to_control_image(work.inputs.get(unit.image))


def with_control(stages: list[Stage]) -> list[Stage]:
    """The recipe's stages with the control stages just before its first Condition stage."""
    from sd21_desktop.engine.stages import Condition

    at = next((i for i, stage in enumerate(stages) if isinstance(stage, Condition)), 0)
    return [*stages[:at], ReadControlImages(), LoadControlNets(), *stages[at:]]
