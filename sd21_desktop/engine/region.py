"""Inpaint only the masked region, at the model's full resolution ("Inpaint area: Only masked").

The recipe is the inpaint recipe between two stages of its own::

    CropToMask → Condition → [masked content] → Denoise("inpaint") → PasteIntoImage

* **crop box**: the bounding box of the *effective* mask (after grow/feather), padded by
  ``mask_padding`` on each side and clamped to the image (:func:`padded_box`). With an explicit
  processing size the box is widened — centred, then shifted to stay inside the image — to that
  size's aspect ratio (:func:`widen_to_aspect`); without one the processing size follows the
  box's aspect at the model's native pixel count (:func:`native_size_for`), sides multiples of 8.
  :func:`plan_region` does both; the CLI and the window call it before they build the request.
* the crop is resized to the processing size (Lanczos; the mask bilinear), inpainted, resized
  back to the box (Lanczos) and pasted into the full image through the effective mask, so every
  pixel outside the mask is the input's exactly (with ``keep_unmasked`` off, the whole box is).
* the request as run names the box (``crop_box``) and the processing size (``width`` x
  ``height``), so a re-run renders exactly the same region.

This module imports no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from sd21_desktop.engine.context import StageContext
from sd21_desktop.engine.imageprep import PreparedInputs, load_effective_mask
from sd21_desktop.engine.inputs import to_init_image
from sd21_desktop.engine.masks import nonzero_box, paste_through_mask
from sd21_desktop.engine.plan import Stage, Work
from sd21_desktop.engine.request import MAX_SIDE, MIN_SIDE, GenerationRequest
from sd21_desktop.errors import UserFacingError

Box = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)``, half-open, in pixels of the input image."""


def padded_box(effective: np.ndarray, padding: int) -> Box:
    """The effective mask's bounding box grown by ``padding`` px per side, inside the image."""
    box = nonzero_box(effective)
    if box is None:
        raise UserFacingError(
            "The mask is empty: nothing would be repainted.",
            "Paint the area to repaint (white in a mask file), or use img2img to change it all.",
        )
    height, width = effective.shape
    x0, y0, x1, y1 = box
    return (
        max(0, x0 - padding),
        max(0, y0 - padding),
        min(width, x1 + padding),
        min(height, y1 + padding),
    )


def _widen(low: int, high: int, wanted: int, limit: int) -> tuple[int, int]:
    """``[low, high)`` grown to ``wanted`` around its centre, shifted back inside ``[0, limit)``
    (and cut at the image when even that is too small)."""
    grow = wanted - (high - low)
    if grow <= 0:
        return low, high
    low, high = low - grow // 2, high + grow - grow // 2
    if high > limit:
        low, high = low - (high - limit), limit
    if low < 0:
        low, high = 0, min(limit, high - low)
    return low, high


def widen_to_aspect(box: Box, aspect: tuple[int, int], image_size: tuple[int, int]) -> Box:
    """``box`` widened along one side to the aspect ratio ``aspect`` = (width, height)."""
    x0, y0, x1, y1 = box
    (ratio_w, ratio_h), (width, height) = aspect, image_size
    box_w, box_h = x1 - x0, y1 - y0
    if box_w * ratio_h < box_h * ratio_w:  # too narrow: widen
        x0, x1 = _widen(x0, x1, -(-box_h * ratio_w // ratio_h), width)
    elif box_w * ratio_h > box_h * ratio_w:  # too flat: heighten
        y0, y1 = _widen(y0, y1, -(-box_w * ratio_h // ratio_w), height)
    return x0, y0, x1, y1


def _side(value: float) -> int:
    return max(MIN_SIDE, min(MAX_SIDE, int(math.floor(value / 8 + 0.5)) * 8))


def native_size_for(box: Box, native: int) -> tuple[int, int]:
    """The box's aspect ratio at ``native`` x ``native`` pixels, sides multiples of 8."""
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    scale = math.sqrt(native * native / (box_w * box_h))
    return _side(box_w * scale), _side(box_h * scale)


def plan_region(
    effective: np.ndarray,
    padding: int,
    native: int,
    width: int | None = None,
    height: int | None = None,
) -> tuple[Box, tuple[int, int]]:
    """(crop box, processing size) for an effective mask (see the module docstring)."""
    box = padded_box(effective, padding)
    if width is not None and height is not None:
        image_size = (effective.shape[1], effective.shape[0])
        return widen_to_aspect(box, (width, height), image_size), (width, height)
    size = native_size_for(box, native)
    if width is not None:
        size = (width, _side(width * size[1] / size[0]))
    elif height is not None:
        size = (_side(height * size[0] / size[1]), height)
    return box, size


def default_area(image_size: tuple[int, int], native: int) -> str:
    """``masked`` once the image is larger than the model's native size, else ``whole``."""
    return "masked" if max(image_size) > native else "whole"


@dataclass(kw_only=True)
class RegionInputs(PreparedInputs):
    """The crop fitted to the processing size, plus what pasting it back needs."""

    full: Image.Image
    """The whole input image (RGB)."""
    full_mask: np.ndarray
    """The effective mask of the whole image."""
    crop_box: Box
    """The crop (x0, y0, x1, y1) in the full image (not the letterbox ``box`` of the parent)."""

    def fit_guide(self, guide: Image.Image) -> Image.Image:
        """An image aligned with the full input, cropped like it and fitted to the processing
        size (Lanczos)."""
        if guide.size != self.full.size:
            guide = guide.resize(self.full.size, Image.Resampling.LANCZOS)
        crop = guide.crop(self.crop_box)
        size = self.image.size
        return crop if crop.size == size else crop.resize(size, Image.Resampling.LANCZOS)

    def paste(self, generated: Image.Image, keep_unmasked: bool) -> Image.Image:
        """A generated crop (processing size) resized back and pasted into the full image."""
        x0, y0, x1, y1 = self.crop_box
        back = np.asarray(
            generated.convert("RGB").resize((x1 - x0, y1 - y0), Image.Resampling.LANCZOS)
        )
        pixels = np.array(self.full)
        if keep_unmasked:
            back = paste_through_mask(pixels[y0:y1, x0:x1], back, self.full_mask[y0:y1, x0:x1])
        pixels[y0:y1, x0:x1] = back
        return Image.fromarray(pixels, mode="RGB")


def _check_box(box: Box, image_size: tuple[int, int]) -> None:
    width, height = image_size
    if box[2] > width or box[3] > height:
        raise UserFacingError(
            f"The crop box {list(box)} reaches outside the {width}x{height} image.",
            "Leave crop_box out of the request to compute it from the mask again.",
        )


class CropToMask(Stage):
    """Read the image and mask, crop the mask's padded box and fit it to the processing size."""

    name = "crop to mask"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        request = work.request
        assert work.inputs is not None
        if request.init_image is None:
            raise UserFacingError("inpaint needs an input image.")
        full = to_init_image(work.inputs.get(request.init_image))
        notices: list[str] = []
        effective = load_effective_mask(request, work.inputs, full, notices)
        size = (request.width, request.height)
        box = request.crop_box
        if box is None:
            box = widen_to_aspect(padded_box(effective, request.mask_padding), size, full.size)
        _check_box(box, full.size)
        x0, y0, x1, y1 = box
        crop = full.crop(box)
        crop_mask = Image.fromarray(np.ascontiguousarray(effective[y0:y1, x0:x1]), mode="L")
        same = crop.size == size
        prepared = RegionInputs(
            original=crop,
            image=crop if same else crop.resize(size, Image.Resampling.LANCZOS),
            mask=crop_mask if same else crop_mask.resize(size, Image.Resampling.BILINEAR),
            keep_mask=None,
            fit="same" if same else "resize",
            notices=notices,
            full=full,
            full_mask=effective,
            crop_box=box,
        )
        return work.but(
            prepared=prepared, init=(prepared.image,), request=request.replace(crop_box=box)
        )


class PasteIntoImage(Stage):
    """Each result resized back to the crop box and pasted into the full image."""

    name = "paste back"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        prepared = work.prepared
        assert isinstance(prepared, RegionInputs), "CropToMask must come first"
        keep = work.request.keep_unmasked
        pasted = tuple(prepared.paste(image, keep) for image in work.images)
        return work.but(images=pasted).noting(*prepared.notices)


def region_stages(middle: list[Stage]) -> list[Stage]:
    """The masked-area recipe around the inpaint recipe's ``middle`` stages."""
    return [CropToMask(), *middle, PasteIntoImage()]


def region_for_images(
    image: Image.Image,
    mask: Image.Image,
    request: GenerationRequest,
    native: int,
    width: int | None = None,
    height: int | None = None,
) -> tuple[Box, tuple[int, int]]:
    """:func:`plan_region` for an image and its raw mask under ``request``'s grow, feather and
    padding (the mask resized to the image first, as the engine does)."""
    from sd21_desktop.engine.masks import effective_mask

    if mask.size != image.size:
        mask = mask.resize(image.size, Image.Resampling.BILINEAR)
    raw = np.asarray(mask.convert("L"))
    effective = effective_mask(raw, request.mask_grow, request.mask_feather)
    return plan_region(effective, request.mask_padding, native, width, height)


def region_summary(request: GenerationRequest) -> dict[str, list[int]]:
    """``crop_box`` and ``processing_size`` of a masked-area request as run (else nothing)."""
    if request.crop_box is None:
        return {}
    return {"crop_box": list(request.crop_box), "processing_size": [request.width, request.height]}
