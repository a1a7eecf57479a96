"""What Generate will do, from the canvas, the chosen mode and the model: plain values, no Qt.

The canvas decides the mode unless the user chose one: no picture → txt2img, a picture → img2img,
a painted mask → inpaint (depth and upscale are only ever chosen by the user). A user's choice
sticks until the canvas changes kind (a picture opened or removed, a mask painted or cleared);
depth and upscale stick until the picture itself changes. The size follows the picture (its
aspect ratio at the model's pixel count) unless the user typed one. Every combination that is
bound to fail has a reason, and Generate is disabled with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sd21_desktop.engine.imageprep import aspect_size, keeps_aspect
from sd21_desktop.engine.models import known_model

MODE_VERBS = {
    "txt2img": "Generate",
    "img2img": "Image to image",
    "inpaint": "Inpaint",
    "depth": "Depth to image",
    "upscale": "Upscale ×4",
}
CANVAS_MODES = ("img2img", "inpaint", "depth", "upscale")
EXPLICIT_MODES = ("depth", "upscale")
# The modes each kind of model runs (a txt2img model inpaints as masked img2img).
KIND_MODES = {
    "txt2img": ("txt2img", "img2img", "inpaint"),
    "inpaint": ("inpaint",),
    "depth": ("depth",),
    "upscale": ("upscale",),
}
_CHANNEL_KINDS = {9: "inpaint", 5: "depth", 7: "upscale"}


@dataclass(frozen=True)
class CanvasState:
    image_size: tuple[int, int] | None = None
    has_mask: bool = False
    region: tuple[int, int] | None = None
    """Inpaint of the masked area only: the size the region around the mask is processed at."""


@lru_cache(maxsize=64)
def model_kind(model: str) -> str:
    """txt2img, inpaint, depth or upscale: a known hub id's kind, a diffusers folder's by its
    UNet's input channels (a few hundred bytes of JSON); anything else counts as txt2img (the
    engine still refuses what the loaded model cannot do)."""
    known = known_model(model)
    if known is not None:
        return known.kind
    config = Path(model) / "unet" / "config.json"
    try:
        channels = json.loads(config.read_text(encoding="utf-8")).get("in_channels")
    except (OSError, ValueError, AttributeError):
        return "txt2img"
    return _CHANNEL_KINDS.get(channels, "txt2img") if isinstance(channels, int) else "txt2img"


def auto_mode(canvas: CanvasState) -> str:
    """The mode the canvas asks for."""
    if canvas.image_size is None:
        return "txt2img"
    return "inpaint" if canvas.has_mask else "img2img"


def can_run(kind: str, mode: str) -> bool:
    return mode in KIND_MODES.get(kind, ())


def problem(mode: str, kind: str, model: str, canvas: CanvasState) -> str | None:
    """Why Generate cannot run ``mode`` on ``model`` (of ``kind``) with this canvas, or None."""
    if mode in CANVAS_MODES and canvas.image_size is None:
        return f"{MODE_VERBS[mode]} needs a picture: open one on the Canvas tab."
    if mode == "inpaint" and not canvas.has_mask:
        return "Inpaint needs a mask: paint the area to change on the Canvas tab."
    if can_run(kind, mode):
        return None
    name = model.rstrip("/").rsplit("/", 1)[-1]
    if kind == "inpaint":
        return (
            f"{name} is an inpainting model: it only inpaints. Paint a mask on a canvas "
            "picture, or choose a txt2img model."
        )
    if kind in ("depth", "upscale"):
        return f"{name} only runs {MODE_VERBS[kind]}: choose that mode or a txt2img model."
    needed = "the SD2 depth model" if mode == "depth" else "the x4 upscaler"
    return f"{MODE_VERBS[mode]} needs {needed}; {name} is a txt2img model."


def processing_size(
    mode: str, canvas: CanvasState, native: int, typed: tuple[int, int] | None
) -> tuple[int, int]:
    """The size to run at: the user's typed size, else the picture's shape, else native²."""
    if typed is not None:
        return typed
    if mode in CANVAS_MODES and canvas.image_size is not None:
        return aspect_size(canvas.image_size, native)
    return native, native


def button_text(mode: str, size: tuple[int, int], canvas: CanvasState) -> str:
    """ "Inpaint 1024×560 of 1408×768", "Inpaint region 768×768 of 2048×2048",
    "Image to image 768×416", "Generate 768×768"."""
    verb = MODE_VERBS.get(mode, "Generate")
    if mode == "inpaint" and canvas.region is not None and canvas.image_size is not None:
        width, height = canvas.image_size  # the typed size is not used: the region's is
        return f"{verb} region {canvas.region[0]}×{canvas.region[1]} of {width}×{height}"
    if mode == "upscale" and canvas.image_size is not None:
        width, height = canvas.image_size
        return f"{verb} → {4 * width}×{4 * height}"
    text = f"{verb} {size[0]}×{size[1]}"
    if mode in CANVAS_MODES and canvas.image_size not in (None, size):
        assert canvas.image_size is not None
        text += f" of {canvas.image_size[0]}×{canvas.image_size[1]}"
        if not keeps_aspect(canvas.image_size, size):
            text += " (letterboxed)"  # a locked size of another shape: padded, never stretched
    return text


class ModeChoice:
    """The mode: the canvas's, or the user's choice until the canvas changes."""

    def __init__(self) -> None:
        self.canvas = CanvasState()
        self.override: str | None = None
        self.pending: str | None = None
        """A mode for the next picture (chosen before it finished opening)."""

    @property
    def mode(self) -> str:
        return self.override or auto_mode(self.canvas)

    def choose(self, mode: str) -> None:
        """The user picked ``mode`` (picking what the canvas asks for is no override)."""
        self.override = None if mode == auto_mode(self.canvas) else mode

    def canvas_changed(self, canvas: CanvasState, *, new_picture: bool = False) -> None:
        """A new picture ends any choice; a mask painted or cleared ends a non-explicit one."""
        kind_changed = auto_mode(canvas) != auto_mode(self.canvas)
        self.canvas = canvas
        if new_picture or (kind_changed and self.override not in EXPLICIT_MODES):
            self.override = None
        if new_picture and self.pending is not None:
            self.choose(self.pending)
            self.pending = None
