"""Lenient conversions for values read from other tools' metadata.

Every tool writes numbers its own way (``"7"``, ``7.0``, ``"6952411511246973023"``, ``"-1"``), and
a damaged file can hold anything at all, so each helper returns None instead of raising.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# A JSON text nested deeper than this is not metadata; refusing it early keeps json.loads away
# from RecursionError and from spending seconds on a hostile file.
_MAX_JSON_CHARS = 8_000_000
_SIZE = re.compile(r"^\s*\(?\s*(\d{1,6})\s*[x×X*,]\s*(\d{1,6})\s*\)?")


def as_int(value: Any) -> int | None:
    """A whole number from an int, an integral float, or a decimal string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            return None
        try:
            return int(text)
        except ValueError:
            number = as_float(text)
            return as_int(number) if number is not None else None
    return None


def as_float(value: Any) -> float | None:
    """A finite number from an int, a float or a decimal string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_seed(value: Any) -> int | None:
    """A seed; negative values (``-1`` = "random" in most tools) are no seed at all."""
    number = as_int(value)
    return number if number is not None and number >= 0 else None


def as_text(value: Any) -> str | None:
    """A string value as it is; anything else is not text."""
    return value if isinstance(value, str) else None


def as_side(value: Any) -> int | None:
    """An image side in pixels: a positive whole number."""
    number = as_int(value)
    return number if number is not None and 0 < number < 1_000_000 else None


def parse_size(text: Any) -> tuple[int, int] | None:
    """``"512x768"``, ``"1024 x 1024"``, ``"(768, 1280)"`` → (width, height)."""
    if not isinstance(text, str):
        return None
    match = _SIZE.match(text)
    if not match:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    return (width, height) if width > 0 and height > 0 else None


def clean_text(text: str) -> str:
    """Drop the NUL padding some writers put around strings in fixed-size fields."""
    return text.strip("\x00")


def load_json(text: Any) -> Any:
    """Parsed JSON, or None for anything that is not a JSON document."""
    if not isinstance(text, str):
        return None
    text = clean_text(text).strip()
    if not text or len(text) > _MAX_JSON_CHARS or text[0] not in '{["':
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def load_json_object(text: Any) -> dict[str, Any] | None:
    """A JSON object (also when wrapped once more as a JSON string), else None."""
    value = load_json(text)
    if isinstance(value, str):  # some tools store JSON text inside a JSON string
        value = load_json(value)
    return value if isinstance(value, dict) else None


def stringify(value: Any) -> str:
    """A value as the short text shown in an "other settings" list."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return str(value)


def first(mapping: dict[str, Any], *keys: str) -> Any:
    """The first present, non-None value among ``keys``."""
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None
