"""Fitting img2img / inpaint / depth inputs to the processing size, and results back to the input.

The pipeline always runs at ``request.width x request.height`` (multiples of 8). The input image
of size ``W x H`` is fitted to it in one of three ways, and the result undone the same way, so
the output always has the input's size:

* ``same`` — the sizes are equal: nothing to do.
* ``pad`` — the processing size is the input's size rounded *up* to multiples of 8 (and to the
  64 px minimum): the image and mask are padded on the right and bottom by repeating their edge
  pixels, and the result is cropped back. No resampling, so nothing is blurred.
* ``resize`` — the processing size has the input's aspect ratio (to within one 8-pixel step on
  a side), e.g. a larger input scaled to the model's size: both are resized to the processing
  size (Lanczos for the image, bilinear for the mask) and the result is resized back to
  ``W x H`` (Lanczos).
* ``letterbox`` — the user locked a size of another aspect ratio: the input is scaled to fit
  inside it, keeping its aspect ratio, and centred; the bands around it repeat its edge pixels
  (the mask is 0 there: nothing outside the picture is asked for). The result is cropped to the
  picture and resized back, with a notice. Nothing is ever stretched to another aspect ratio.

Inpainting works on the *effective* mask: the raw mask (resized to the image first, with a
notice, if its size differs), grown or shrunk by ``mask_grow`` and feathered by ``mask_feather``
— both in pixels of the input image (:mod:`sd21_desktop.engine.masks`). The pipeline gets it fitted
like the image; with ``keep_unmasked`` the result is pasted over the original input through it, so
every pixel whose effective mask is 0 is the input pixel exactly (diffusers' VAE round trip shifts
colours everywhere otherwise, diffusers issue #5808).

Depth-to-image fits its depth map like the image (edge padding, or a bilinear resize), after
resizing it to the input's size (with a notice) if it has another size; a flat map is refused
here, before any model loads. The x4 upscaler takes its input as it is
(:func:`load_upscale_input`): the output is 4x the input, whatever ``width`` and ``height`` say.

This module imports no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from PIL import Image

from sd21_desktop.engine.depth import check_depth_map
from sd21_desktop.engine.inputs import InputImages, to_depth_image, to_init_image, to_mask_image
from sd21_desktop.engine.masks import effective_mask, paste_through_mask
from sd21_desktop.engine.request import MAX_SIDE, MIN_SIDE, GenerationRequest
from sd21_desktop.engine.upscale import check_input_size
from sd21_desktop.errors import UserFacingError

Fit = Literal["same", "pad", "resize", "letterbox"]
Box = tuple[int, int, int, int]
"""Where the picture lies in the processing size: left, top, width, height."""


def _ceil8(value: int) -> int:
    return max(MIN_SIDE, min(MAX_SIDE, -(-value // 8) * 8))


def _round8(value: float) -> int:
    return max(MIN_SIDE, min(MAX_SIDE, int(math.floor(value / 8 + 0.5)) * 8))


def default_size(
    input_size: tuple[int, int],
    native_size: int,
    width: int | None = None,
    height: int | None = None,
) -> tuple[int, int]:
    """The processing size for an input of ``input_size`` on a model of ``native_size``.

    With neither ``width`` nor ``height``: an input whose longer side fits the native size is
    processed at its own size rounded up to multiples of 8 (padded, never resampled); a larger one
    is scaled so that its longer side is the native size, keeping the aspect ratio (sides rounded
    to multiples of 8). With one of them, the other follows the input's aspect ratio.
    """
    in_w, in_h = input_size
    if width is not None and height is not None:
        return width, height
    if width is not None:
        return width, _round8(width * in_h / in_w)
    if height is not None:
        return _round8(height * in_w / in_h), height
    if max(in_w, in_h) <= native_size:
        return _ceil8(in_w), _ceil8(in_h)
    scale = native_size / max(in_w, in_h)
    return _round8(in_w * scale), _round8(in_h * scale)


def aspect_size(input_size: tuple[int, int], native_size: int) -> tuple[int, int]:
    """The processing size for a canvas picture: its aspect ratio at the model's pixel count.

    The area is at most ``native_size``² (2.1: 768², 2.1-base: 512²): the shorter side is the
    exact one rounded down to a multiple of 8, the longer one follows the aspect ratio (rounded
    to 8), so 1408x768 on 2.1 becomes 1024x560. Sides stay within 64…2048 (a very long picture
    gets the longest side allowed, and the other follows).
    """
    in_w, in_h = input_size
    ratio = max(in_w, in_h) / min(in_w, in_h)
    budget = native_size * native_size
    short = int(math.sqrt(budget / ratio)) // 8 * 8
    if short < MIN_SIDE:  # a small model and a long picture: the 64 px minimum sets the scale
        return _oriented(_round8(MIN_SIDE * ratio), MIN_SIDE, in_w >= in_h)
    long = _round8(short * ratio)
    if long * short > budget and short * ratio - (long - 8) <= 8:
        long -= 8  # within the budget, still within one 8 px step of the aspect ratio
    if long >= MAX_SIDE:
        long, short = MAX_SIDE, _round8(MAX_SIDE / ratio)
    return _oriented(long, short, in_w >= in_h)


def _oriented(long: int, short: int, landscape: bool) -> tuple[int, int]:
    return (long, short) if landscape else (short, long)


def keeps_aspect(input_size: tuple[int, int], processing_size: tuple[int, int]) -> bool:
    """Whether ``processing_size`` has the input's aspect ratio to within one 8-pixel step."""
    (in_w, in_h), (width, height) = input_size, processing_size
    return abs(height - width * in_h / in_w) <= 8 or abs(width - height * in_w / in_h) <= 8


def choose_fit(input_size: tuple[int, int], processing_size: tuple[int, int]) -> Fit:
    """How an input of ``input_size`` reaches ``processing_size`` (see the module docstring)."""
    if input_size == processing_size:
        return "same"
    (in_w, in_h), (width, height) = input_size, processing_size
    if (width, height) == (_ceil8(in_w), _ceil8(in_h)) and in_w <= width and in_h <= height:
        return "pad"
    return "resize" if keeps_aspect(input_size, processing_size) else "letterbox"


def letterbox_box(input_size: tuple[int, int], processing_size: tuple[int, int]) -> Box:
    """Where a picture of ``input_size`` lies, scaled to fit and centred, in ``processing_size``."""
    (in_w, in_h), (width, height) = input_size, processing_size
    scale = min(width / in_w, height / in_h)
    box_w = min(width, max(1, round(in_w * scale)))
    box_h = min(height, max(1, round(in_h * scale)))
    return (width - box_w) // 2, (height - box_h) // 2, box_w, box_h


def _pad(array: np.ndarray, width: int, height: int) -> np.ndarray:
    pad = [(0, height - array.shape[0]), (0, width - array.shape[1])]
    pad += [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, mode="edge")


def _place(array: np.ndarray, size: tuple[int, int], box: Box, edge: bool) -> np.ndarray:
    """``array`` (the box's size) in a ``size`` frame at ``box``, edge pixels or 0 around."""
    left, top, box_w, box_h = box
    pad = [(top, size[1] - top - box_h), (left, size[0] - left - box_w)]
    pad += [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, mode="edge" if edge else "constant")


@dataclass
class PreparedInputs:
    """The inputs fitted to the processing size, and how to bring a result back."""

    original: Image.Image
    """The RGB input at its own size."""
    image: Image.Image
    """The RGB input at the processing size (what the pipeline gets)."""
    mask: Image.Image | None
    """inpaint: the effective mask (L) at the processing size."""
    keep_mask: np.ndarray | None
    """inpaint with keep_unmasked: the effective mask at the input's size, to paste through."""
    fit: Fit
    notices: list[str] = field(default_factory=list)
    depth: Image.Image | None = None
    """depth with a given depth map: the map (L) fitted to the processing size."""
    box: Box | None = None
    """letterbox: where the picture lies in the processing size."""

    def fit_depth(self, depth: Image.Image) -> Image.Image:
        """A depth map (L) of the input fitted to the processing size like the image."""
        depth = to_depth_image(depth)
        if depth.size != self.original.size:
            self.notices.append(
                f"The depth map ({depth.width}x{depth.height}) is not the size of the image "
                f"({self.original.width}x{self.original.height}); it was resized to fit."
            )
            depth = depth.resize(self.original.size, Image.Resampling.BILINEAR)
        return _fit_mask(np.asarray(depth), self.fit, self.image.size, self.box, edge=True)

    def fit_guide(self, guide: Image.Image) -> Image.Image:
        """An image aligned with the input (a ControlNet control image) fitted to the processing
        size like the input: resized to the input's size first (Lanczos) if it differs."""
        if guide.size != self.original.size:
            guide = guide.resize(self.original.size, Image.Resampling.LANCZOS)
        return _fit_image(guide, self.fit, self.image.size, self.box)

    def finish(self, generated: Image.Image) -> Image.Image:
        """A generated image (processing size) as the output: the input's size, pasted back."""
        size = self.original.size
        if self.fit == "pad":
            result = generated.crop((0, 0, *size))
        elif self.fit == "letterbox" and self.box is not None:
            left, top, box_w, box_h = self.box
            picture = generated.crop((left, top, left + box_w, top + box_h))
            result = picture.resize(size, Image.Resampling.LANCZOS)
        elif self.fit == "resize":
            result = generated.resize(size, Image.Resampling.LANCZOS)
        else:
            result = generated
        if self.keep_mask is not None:
            pasted = paste_through_mask(
                np.asarray(self.original.convert("RGB")),
                np.asarray(result.convert("RGB")),
                self.keep_mask,
            )
            result = Image.fromarray(pasted, mode="RGB")
        return result


def _fit_image(image: Image.Image, fit: Fit, size: tuple[int, int], box: Box | None) -> Image.Image:
    if fit == "same":
        return image
    if fit == "pad":
        return Image.fromarray(_pad(np.asarray(image), *size), mode=image.mode)
    if fit == "letterbox" and box is not None:
        scaled = image.resize(box[2:], Image.Resampling.LANCZOS)
        return Image.fromarray(_place(np.asarray(scaled), size, box, edge=True), mode=image.mode)
    return image.resize(size, Image.Resampling.LANCZOS)


def _fit_mask(
    mask: np.ndarray, fit: Fit, size: tuple[int, int], box: Box | None, *, edge: bool = False
) -> Image.Image:
    """A mask (or depth map: ``edge``) fitted like the image; a mask is 0 in letterbox bands."""
    if fit == "pad":
        mask = _pad(mask, *size)
    image = Image.fromarray(mask, mode="L")
    if fit == "letterbox" and box is not None:
        scaled = np.asarray(image.resize(box[2:], Image.Resampling.BILINEAR))
        return Image.fromarray(_place(scaled, size, box, edge), mode="L")
    return image.resize(size, Image.Resampling.BILINEAR) if fit == "resize" else image


def prepare_inputs(request: GenerationRequest, inputs: InputImages) -> PreparedInputs:
    """Read a request's input image (and mask) from ``inputs`` and fit them to its size."""
    if request.init_image is None:
        raise UserFacingError(f"{request.mode} needs an input image.")
    original = to_init_image(inputs.get(request.init_image))
    size = (request.width, request.height)
    fit = choose_fit(original.size, size)
    box = letterbox_box(original.size, size) if fit == "letterbox" else None
    notices: list[str] = []
    if box is not None:
        in_w, in_h = original.size
        notices.append(
            f"The input image ({in_w}x{in_h}) has another aspect ratio than the size "
            f"{request.width}x{request.height}: it is processed at {box[2]}x{box[3]} inside it, "
            f"padded (letterboxed), not stretched; the result is cropped and scaled back to "
            f"{in_w}x{in_h}. For a size of its own shape, reset the size to follow the picture."
        )
    image = _fit_image(original, fit, size, box)
    if request.mode != "inpaint":
        prepared = PreparedInputs(original, image, None, None, fit, notices, box=box)
        if request.mode == "depth" and request.depth_map is not None:
            depth = to_depth_image(inputs.get(request.depth_map))
            check_depth_map(depth)
            prepared.depth = prepared.fit_depth(depth)
        return prepared
    effective = load_effective_mask(request, inputs, original, notices)
    return PreparedInputs(
        original=original,
        image=image,
        mask=_fit_mask(effective, fit, size, box),
        keep_mask=effective if request.keep_unmasked else None,
        fit=fit,
        notices=notices,
        box=box,
    )


def load_effective_mask(
    request: GenerationRequest, inputs: InputImages, original: Image.Image, notices: list[str]
) -> np.ndarray:
    """The request's effective mask at the input's size (refused when empty); a notice is added
    when the mask had to be resized to the image."""
    if request.mask_image is None:
        raise UserFacingError("inpaint needs a mask.")
    raw = to_mask_image(inputs.get(request.mask_image))
    if raw.size != original.size:
        notices.append(
            f"The mask ({raw.width}x{raw.height}) is not the size of the image "
            f"({original.width}x{original.height}); it was resized to fit."
        )
        raw = raw.resize(original.size, Image.Resampling.BILINEAR)
    effective = effective_mask(np.asarray(raw), request.mask_grow, request.mask_feather)
    if not effective.any():
        raise UserFacingError(
            "The mask is empty: nothing would be repainted"
            + (" (the shrink removed all of it)." if request.mask_grow < 0 else "."),
            "Paint the area to repaint (white in a mask file), or use img2img to change it all.",
        )
    return effective


def load_upscale_input(request: GenerationRequest, inputs: InputImages) -> Image.Image:
    """The x4 upscaler's input (RGB, its own size), refused when the output would be too large."""
    if request.init_image is None:
        raise UserFacingError("upscale needs an input image.")
    image = to_init_image(inputs.get(request.init_image))
    check_input_size(*image.size)
    return image
