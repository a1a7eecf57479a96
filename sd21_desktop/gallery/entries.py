"""The values the store hands out: one gallery entry, a query, an import report."""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import InvalidRequestError

Origin = Literal["generated", "imported"]
ORIGINS: tuple[str, ...] = ("generated", "imported")

# The columns every SELECT of an entry reads, in the order :func:`entry_from_row` expects.
ENTRY_COLUMNS = (
    "id, file_name, created, origin, source, has_metadata, prompt, negative_prompt, model, mode, "
    "width, height, seed, batch_index, request_json, runtime_json, details_json, favourite, "
    "deleted_at"
)


# SQLite's INTEGER is signed 64-bit; seeds are unsigned 64-bit. The ``seed`` column holds
# seed - 2^63 (index schema 2), which keeps the order of seeds and fits every one of them.
SEED_COLUMN_OFFSET = 2**63


def seed_to_column(seed: int | None) -> int | None:
    """A seed (0 to 2^64 - 1) as the ``seed`` column stores it."""
    return None if seed is None else seed - SEED_COLUMN_OFFSET


def seed_from_column(value: int | None) -> int | None:
    """The seed a ``seed`` column value stands for."""
    return None if value is None else value + SEED_COLUMN_OFFSET


def iso_time(timestamp: float) -> str:
    """A timestamp as ISO 8601 in UTC with microseconds (what the PNG and the JSON carry)."""
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).isoformat(timespec="microseconds")


def parse_iso_time(text: str) -> float | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


@dataclass(frozen=True)
class GalleryEntry:
    """One image of the gallery as the index knows it."""

    id: int
    path: Path
    """Where the file is now: in the gallery folder, or in the trash when ``deleted``."""
    file_name: str
    """The name relative to the gallery (and trash) folder, e.g. ``imported/cat.jpg``."""
    created: float
    """Unix time the image was saved (generated) or imported."""
    origin: str
    source: str | None
    """The tool that made an imported image (``"a1111"``, ``"comfyui"``…), None when unknown."""
    has_metadata: bool
    prompt: str
    negative_prompt: str
    model: str | None
    mode: str | None
    width: int
    height: int
    seed: int | None
    batch_index: int
    request_json: str | None = field(repr=False)
    """The stored request; :attr:`request` reads it when first asked (a page of 200 entries
    would otherwise spend most of its time parsing requests nobody looks at)."""
    runtime: dict[str, Any]
    details: dict[str, Any]
    """Settings an importer found that have no column (steps, sampler, problem…)."""
    favourite: bool
    deleted: bool

    @functools.cached_property
    def request(self) -> GenerationRequest | None:
        """What re-runs this image; None when the image carries no usable settings."""
        return _request(self.request_json)

    @property
    def created_iso(self) -> str:
        return iso_time(self.created)

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready description (``gallery list --json`` prints one per line)."""
        return {
            "id": self.id,
            "path": str(self.path),
            "file_name": self.file_name,
            "created": self.created_iso,
            "origin": self.origin,
            "source": self.source,
            "has_metadata": self.has_metadata,
            "favourite": self.favourite,
            "deleted": self.deleted,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "model": self.model,
            "mode": self.mode,
            "width": self.width,
            "height": self.height,
            "seed": self.seed,
            "batch_index": self.batch_index,
            "request": self.request.to_dict() if self.request is not None else None,
            "runtime": self.runtime,
            "details": self.details,
        }


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _request(text: str | None) -> GenerationRequest | None:
    if not text:
        return None
    try:
        return GenerationRequest.from_json(text)
    except (InvalidRequestError, TypeError):
        # Stored by a version whose request this one cannot read: the entry still lists.
        return None


def entry_from_row(
    row: sqlite3.Row | tuple[Any, ...], gallery_dir: Path, trash_dir: Path
) -> GalleryEntry:
    (
        entry_id, file_name, created, origin, source, has_metadata, prompt, negative_prompt,
        model, mode, width, height, seed, batch_index, request_json, runtime_json, details_json,
        favourite, deleted_at,
    ) = tuple(row)
    deleted = deleted_at is not None
    return GalleryEntry(
        id=entry_id,
        path=(trash_dir if deleted else gallery_dir) / file_name,
        file_name=file_name,
        created=created,
        origin=origin,
        source=source,
        has_metadata=bool(has_metadata),
        prompt=prompt,
        negative_prompt=negative_prompt,
        model=model,
        mode=mode,
        width=width,
        height=height,
        seed=seed_from_column(seed),
        batch_index=batch_index,
        request_json=request_json,
        runtime=_json_object(runtime_json),
        details=_json_object(details_json),
        favourite=bool(favourite),
        deleted=deleted,
    )


@dataclass(frozen=True)
class GalleryQuery:
    """What the gallery view shows: every field narrows the result; the default is everything."""

    text: str = ""
    """Words to find in prompts; each word matches as a prefix ("cas" finds "castle")."""
    include_negative: bool = True
    """Also look in negative prompts."""
    model: str | None = None
    mode: str | None = None
    created_from: float | None = None
    """Unix time, inclusive."""
    created_until: float | None = None
    """Unix time, exclusive."""
    width: int | None = None
    height: int | None = None
    favourites_only: bool = False
    origin: str | None = None
    in_trash: bool = False
    """List the trash instead of the gallery."""
    seed: int | None = None
    """Only entries made with exactly this seed."""
    order: str = "newest"
    """``"newest"`` first, or by ``"seed"`` (smallest first; entries without a seed last)."""


@dataclass(frozen=True)
class ImportProblem:
    path: Path
    message: str


@dataclass
class ImportReport:
    """What :meth:`GalleryStore.import_files` did with each file it was given."""

    imported: list[GalleryEntry] = field(default_factory=list)
    skipped: list[ImportProblem] = field(default_factory=list)
    """Files left out on purpose (already in the gallery)."""
    errors: list[ImportProblem] = field(default_factory=list)
    """Files that could not be imported, each with a message a person can act on."""
