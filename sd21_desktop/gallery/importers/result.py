"""What an importer found in an image, and how it becomes one of our requests."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from sd21_desktop.engine.request import (
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_SIDE,
    GenerationRequest,
)
from sd21_desktop.errors import InvalidRequestError
from sd21_desktop.gallery.importers.checkpoints import CheckpointChoice, choose_checkpoint
from sd21_desktop.gallery.importers.explore import exploration_fields
from sd21_desktop.gallery.importers.samplers import scheduler_for
from sd21_desktop.gallery.metadata import ImageRecord

SOURCES: tuple[str, ...] = (
    "sd21-desktop",
    "a1111",
    "forge",
    "sdnext",
    "civitai",
    "comfyui",
    "swarmui",
    "invokeai",
    "novelai",
    "fooocus",
    "easydiffusion",
    "stability-matrix",
    "tensorart",
    "hf-space",
    "none",
)


@dataclass(frozen=True)
class ImportedMetadata:
    """Generation settings read from an image, whichever tool made it.

    ``source`` names the tool (one of :data:`SOURCES`); ``"none"`` means nothing usable was found
    and ``problem`` says why. Fields a tool did not record are None. ``raw`` holds every metadata
    string found (keys like ``"png:tEXt:parameters"`` or ``"exif:ExifIFD 0x9286"``), ``extra``
    the settings that have no field here (``"Schedule type"``, ``"Clip skip"``, hires options…).
    ``problem`` may also be set next to a result, as a note on what could not be read.
    """

    source: str
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    cfg_scale: float | None = None
    sampler: str | None = None
    width: int | None = None
    height: int | None = None
    model: str | None = None
    raw: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    #: The noise schedule when the tool records it apart from the sampler (``"Karras"``).
    schedule: str | None = None
    #: The pixel size of the file itself (a fallback when the metadata gives no size).
    image_width: int | None = None
    image_height: int | None = None
    #: Our own record, for images made by this app (``source == "sd21-desktop"``).
    record: ImageRecord | None = None

    @property
    def found(self) -> bool:
        return self.source != "none"

    @property
    def model_hash(self) -> str | None:
        """The checkpoint hash the tool recorded (A1111 ``Model hash``, NovelAI, InvokeAI)."""
        for key in ("Model hash", "model_hash"):
            value = self.extra.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def checkpoint_choice(self, fallback_model: str | None = None) -> CheckpointChoice:
        """Which of our models re-runs this image (see :mod:`.checkpoints`); ``fallback_model``
        replaces the guess by size when the model is unknown."""
        width, height = self.width, self.height
        if width is None or height is None:
            width, height = self.image_width, self.image_height
        return choose_checkpoint(self.model, self.model_hash, width, height, fallback_model)

    def to_request(self, fallback_model: str | None = None) -> GenerationRequest | None:
        """A request that re-creates this image as closely as our engine can; None without prompt.

        Our own images give back their exact stored request. For other tools, the model is the
        one :meth:`checkpoint_choice` picks, the sampler is mapped to the nearest scheduler we
        have, sizes snap to multiples of 8 within our limits, and seeds stay exact (ComfyUI's are
        64-bit like ours; a value beyond 2^64 - 1, which no tool writes, wraps).
        """
        if self.record is not None:
            return self.record.request
        if self.prompt is None:
            return None
        values: dict[str, Any] = {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt or "",
            "model": self.checkpoint_choice(fallback_model).repo_id,
            "scheduler": scheduler_for(self.sampler, self.schedule),
        }
        if self.seed is not None:
            values["seed"] = self.seed % (MAX_SEED + 1)
        if self.steps is not None:
            values["steps"] = min(max(self.steps, 1), MAX_STEPS)
        if self.cfg_scale is not None:
            values["guidance_scale"] = min(max(float(self.cfg_scale), 0.0), MAX_GUIDANCE)
        width, height = self.width, self.height
        if width is None or height is None:
            # Formats without a size (early NovelAI) made the image at exactly its pixel size.
            width, height = self.image_width, self.image_height
        if width is not None and height is not None:
            values["width"] = _snap_side(width)
            values["height"] = _snap_side(height)
        # AUTOMATIC1111's short hashes, so a re-run finds the same files (by content) or names
        # the missing ones.
        from sd21_desktop.gallery.control_infotext import control_units_for_request
        from sd21_desktop.gallery.infotext import parse_hash_list

        values["loras"] = parse_hash_list(self.extra.get("Lora hashes"))
        values["embeddings"] = parse_hash_list(self.extra.get("TI hashes"))
        plain = GenerationRequest(**values)
        # the hires fix and variation seed, when the image had them and they fit our limits
        # (each replace validates the whole request again: skipped when there is nothing to add)
        explored = exploration_fields(self.extra)
        if explored:
            with contextlib.suppress(InvalidRequestError):
                plain = plain.replace(**explored)
        try:  # ControlNet units that name our control image (AUTOMATIC1111 keeps none)
            controls = control_units_for_request(self.extra)
            return plain.replace(controls=controls) if controls else plain
        except InvalidRequestError:
            return plain


def _snap_side(value: int) -> int:
    """The nearest multiple of 8 within the sizes our requests accept."""
    return min(max((value + 4) // 8 * 8, MIN_SIDE), MAX_SIDE)


def nothing_found(problem: str, raw: dict[str, str] | None = None) -> ImportedMetadata:
    return ImportedMetadata(source="none", raw=dict(raw or {}), problem=problem)
