"""x4 upscaling with the SD2 x4 upscaler, in overlapping tiles for large images.

**One tile.** An input that fits in one tile (both sides at most ``tile_size``) is upscaled by
one call of diffusers' ``StableDiffusionUpscalePipeline`` with a CPU generator seeded with the
request's seed: exactly what diffusers itself does with that image and seed.

**Tiles.** A larger input is cut into tiles of ``tile_size`` x ``tile_size`` input pixels
(default **128**, i.e. 512 x 512 output pixels, the size the x4 upscaler was trained at) that
overlap their neighbours by ``tile_overlap`` input pixels (default **32**, i.e. 128 output
pixels): tile starts step by ``tile_size - tile_overlap``, and the last tile of a row or column
is moved back to end exactly at the image's edge (so it may overlap its neighbour more). Each
tile is one pipeline call — its own denoising *and its own VAE decode* — so neither the UNet nor
the VAE decoder (the upscaler's memory hog: attention over every latent pixel) ever sees more
than one tile, and the memory of a generation is bounded by the tile size, not the image size.

**Seeds.** Tile *i* (row-major) uses a CPU generator seeded with :func:`tile_seed` ``(seed, i)``
= ``(seed + i * 0x9E3779B9) mod M``: deterministic, so a re-run is pixel-identical; tile 0
uses the seed itself; ``M`` is 2^32 for seeds below 2^32 (as before seeds were 64-bit, so old
upscales re-run identically) and 2^64 above (a 64-bit seed stays in range); seeds of tiles and
of batch neighbours (seed + 1, …) never collide for any realistic tile count. Image *k* of a
batch is upscaled on its own with seed + *k*, so it equals a single run with that seed.

**Blending.** Each output tile is weighted by a separable linear feather (:func:`feather`): along
a side that has a neighbouring tile the weight rises from ~0 at the tile's edge to 1 across
``4 * tile_overlap`` output pixels; sides on the image's border keep weight 1. The result is the
weighted sum of the tiles divided by the sum of the weights, so every output pixel is a convex
mix of the tiles covering it and the weights vary smoothly: no seam shows. The grid of tiles is a
product of row and column spans, so the sum of the weights is the outer product of two 1-D sums.
Float accumulation covers one row of tiles at a time; rows above the next tile row are final and
are written out as 8-bit pixels, so the float buffer is (tile height x 4) x (image width x 4).

**Sizes.** The output is exactly 4 x the input. Pieces whose sides are not multiples of 8 are
padded (edge pixels repeated) before the call and the output cropped back.

This module imports torch only inside the functions that run the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from sd21_desktop.errors import UserFacingError

SCALE = 4
"""The x4 upscaler's factor (its VAE has 3 blocks: 2^2 = 4, latents at the input's size)."""
MULTIPLE = 8
"""Pieces are padded to multiples of this (the real upscaler's UNet halves 3 times)."""
MAX_INPUT_SIDE = 2048
"""The longest input side accepted (output 8192 px)."""
_SEED_STEP = 0x9E3779B9  # odd (the golden-ratio constant), so tile seeds never repeat mod 2^k
_SEED_MODULUS_32, _SEED_MODULUS_64 = 2**32, 2**64

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in input pixels, right/bottom exclusive."""


def check_input_size(width: int, height: int) -> None:
    """Refuse an input whose 4x output would be unreasonably large (see :data:`MAX_INPUT_SIDE`)."""
    if max(width, height) > MAX_INPUT_SIDE:
        raise UserFacingError(
            f"The image to upscale is {width}x{height}; the x4 upscaler takes at most "
            f"{MAX_INPUT_SIDE} px per side (output {MAX_INPUT_SIDE * SCALE} px).",
            "Crop or scale the image down first.",
        )


def tile_seed(seed: int, index: int) -> int:
    """The generator seed of tile ``index`` of an image made with ``seed`` (tile 0: ``seed``)."""
    modulus = _SEED_MODULUS_32 if seed < _SEED_MODULUS_32 else _SEED_MODULUS_64
    return (seed + index * _SEED_STEP) % modulus


def tile_spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """``[start, end)`` spans of tiles of ``tile`` px covering ``length`` px with ``overlap``."""
    if length <= tile:
        return [(0, length)]
    stride = tile - overlap
    starts: list[int] = []
    start = 0
    while start + tile < length:
        starts.append(start)
        start += stride
    starts.append(length - tile)
    return [(s, s + tile) for s in starts]


def tile_boxes(width: int, height: int, tile: int, overlap: int) -> list[Box]:
    """The tiles of a ``width`` x ``height`` input, row-major (the order of their seeds)."""
    rows = tile_spans(height, tile, overlap)
    columns = tile_spans(width, tile, overlap)
    return [(x0, y0, x1, y1) for y0, y1 in rows for x0, x1 in columns]


def feather(start: int, end: int, length: int, overlap: int) -> np.ndarray:
    """1-D weights, in output pixels, of a tile spanning input ``[start, end)`` of ``length``.

    Linear ramps of ``SCALE * overlap`` output pixels, from (0.5 / ramp) up to 1, at each end
    that lies inside the image (where a neighbour overlaps); 1 elsewhere. Never 0, so every
    output pixel has a positive total weight.
    """
    size = (end - start) * SCALE
    weights = np.ones(size, dtype=np.float32)
    ramp = min(SCALE * overlap, size)
    if ramp <= 0:
        return weights
    rising = ((np.arange(ramp, dtype=np.float32) + 0.5) / np.float32(ramp)).astype(np.float32)
    if start > 0:
        weights[:ramp] = np.minimum(weights[:ramp], rising)
    if end < length:
        weights[size - ramp :] = np.minimum(weights[size - ramp :], rising[::-1])
    return weights


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Floats in 0..1 to 8-bit, rounding as diffusers' ``numpy_to_pil`` does."""
    return (np.clip(pixels, 0.0, 1.0) * 255).round().astype(np.uint8)


@dataclass
class UpscaleStats:
    """What the (tiled) upscale did, for checks."""

    calls: int = 0
    largest_piece: tuple[int, int] = (0, 0)
    """The largest (width, height) in input pixels handed to one pipeline call."""


PipelineCall = Callable[[dict[str, Any]], np.ndarray]
"""Runs the upscale pipeline with these keyword arguments; returns its float pixels
(N, H, W, 3) in 0..1 (the engine's one pipeline call, :func:`..denoise.run_pipeline`)."""


@dataclass
class TileRunner:
    """Upscales one piece of the input: padded to multiples of 8, one pipeline call."""

    call: PipelineCall
    arguments: dict[str, Any]
    """prompt embeddings, num_inference_steps, guidance_scale, noise_level."""
    generator: Callable[[int], Any]
    """A generator seeded with the given seed."""
    before_piece: Callable[[], None] | None = None
    """Called before each piece (e.g. to name the tile in the progress label)."""
    stats: UpscaleStats = field(default_factory=UpscaleStats)

    def __call__(self, piece: Image.Image, seed: int) -> np.ndarray:
        """The upscaled piece as float32 ``(4h, 4w, 3)`` in 0..1."""
        width, height = piece.size
        padded_w = -(-width // MULTIPLE) * MULTIPLE
        padded_h = -(-height // MULTIPLE) * MULTIPLE
        if (padded_w, padded_h) != (width, height):
            array = np.asarray(piece.convert("RGB"))
            array = np.pad(array, ((0, padded_h - height), (0, padded_w - width), (0, 0)), "edge")
            piece = Image.fromarray(array, mode="RGB")
        largest = self.stats.largest_piece
        self.stats.largest_piece = (max(largest[0], padded_w), max(largest[1], padded_h))
        if self.before_piece is not None:
            self.before_piece()
        pixels = self.call(
            {
                "image": piece,
                "generator": self.generator(seed),
                "num_images_per_prompt": 1,
                **self.arguments,
            }
        )
        self.stats.calls += 1
        return np.asarray(pixels[0], dtype=np.float32)[: height * SCALE, : width * SCALE]


def upscale_image(
    run_piece: Callable[[Image.Image, int], np.ndarray],
    image: Image.Image,
    seed: int,
    tile_size: int,
    tile_overlap: int,
) -> Image.Image:
    """``image`` (RGB) upscaled 4x: in one piece if it fits in a tile, else in blended tiles.

    ``run_piece(piece, seed)`` upscales one piece (:class:`TileRunner`).
    """
    image = image.convert("RGB")
    width, height = image.size
    if width <= tile_size and height <= tile_size:
        return Image.fromarray(_to_uint8(run_piece(image, seed)), mode="RGB")
    rows = tile_spans(height, tile_size, tile_overlap)
    columns = tile_spans(width, tile_size, tile_overlap)
    out_w, out_h = width * SCALE, height * SCALE
    column_weights = [feather(x0, x1, width, tile_overlap) for x0, x1 in columns]
    row_weights = [feather(y0, y1, height, tile_overlap) for y0, y1 in rows]
    total_x = np.zeros(out_w, dtype=np.float32)
    for (x0, x1), weights in zip(columns, column_weights, strict=True):
        total_x[x0 * SCALE : x1 * SCALE] += weights
    total_y = np.zeros(out_h, dtype=np.float32)
    for (y0, y1), weights in zip(rows, row_weights, strict=True):
        total_y[y0 * SCALE : y1 * SCALE] += weights
    output = np.empty((out_h, out_w, 3), dtype=np.uint8)

    def finish(buffer: np.ndarray, top: int, bottom: int) -> None:
        """Write output rows ``[top, bottom)`` from the float buffer that starts at ``top``
        (in place: those buffer rows are not needed again)."""
        rows = buffer[: bottom - top]
        rows /= total_y[top:bottom, None, None] * total_x[None, :, None]
        np.clip(rows, 0.0, 1.0, out=rows)
        rows *= 255
        np.round(rows, out=rows)
        output[top:bottom] = rows

    buffer: np.ndarray | None = None
    buffer_top = 0
    index = 0
    for (y0, y1), weights_y in zip(rows, row_weights, strict=True):
        top, bottom = y0 * SCALE, y1 * SCALE
        fresh = np.zeros((bottom - top, out_w, 3), dtype=np.float32)
        if buffer is not None:  # rows above this tile row are final; carry the overlap
            finish(buffer, buffer_top, top)
            carried = buffer[top - buffer_top :]
            fresh[: carried.shape[0]] += carried
        buffer, buffer_top = fresh, top
        for (x0, x1), weights_x in zip(columns, column_weights, strict=True):
            piece = image.crop((x0, y0, x1, y1))
            pixels = run_piece(piece, tile_seed(seed, index))
            index += 1
            pixels = pixels * weights_y[:, None, None]  # a copy: run_piece's array stays as is
            pixels *= weights_x[None, :, None]
            buffer[:, x0 * SCALE : x1 * SCALE] += pixels
    if buffer is not None:
        finish(buffer, buffer_top, out_h)
    return Image.fromarray(output, mode="RGB")


def tile_count(width: int, height: int, tile_size: int, tile_overlap: int) -> int:
    """How many pipeline calls an input of this size takes (1 when it fits in a tile)."""
    if width <= tile_size and height <= tile_size:
        return 1
    return len(tile_spans(width, tile_size, tile_overlap)) * len(
        tile_spans(height, tile_size, tile_overlap)
    )


def describe_tiling(width: int, height: int, tile_size: int, tile_overlap: int) -> str | None:
    """A notice for a tiled upscale (None when the input fits in one tile)."""
    count = tile_count(width, height, tile_size, tile_overlap)
    if count == 1:
        return None
    return (
        f"Upscaled {width}x{height} to {width * SCALE}x{height * SCALE} in {count} tiles of "
        f"{tile_size} px with {tile_overlap} px overlap (feathered)."
    )
