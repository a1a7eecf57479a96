"""AUTOMATIC1111-style "infotext", as written by A1111, Forge, reForge, SD.Next, Civitai, Fooocus
(its A1111 scheme), Stability Matrix and this app::

    <prompt, one or more lines>
    Negative prompt: <negative prompt, one or more lines>
    Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1, Size: 512x512, Lora hashes: "a: 1, b: 2"

Values holding ``,`` or ``:`` are JSON-quoted; Civitai also writes bare JSON arrays/objects.
"""

from __future__ import annotations

import json
import re

from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import (
    as_float,
    as_int,
    as_seed,
    clean_text,
    load_json,
    parse_size,
)

PROMPT_KEY = "prompt"
NEGATIVE_KEY = "negative_prompt"
_NEGATIVE_PREFIX = "negative prompt:"
_KEY = re.compile(r"\s*(\w[\w \-/+.()]*?)\s*:\s*")
# A settings line must name at least one of these, so a prompt like "style: anime, mood: dark,
# light: soft" is not taken for settings.
_KNOWN_KEYS = {"Steps", "Sampler", "Seed", "CFG scale", "Size", "Model", "Model hash"}
_MIN_PAIRS = 3
_DECODER = json.JSONDecoder()
_FIELD_KEYS = {"Steps", "Sampler", "CFG scale", "Seed", "Size", "Model"}


def _parse_value(line: str, position: int) -> tuple[str, int]:
    """The value starting at ``position`` and the index just past it (before any comma)."""
    if position < len(line) and line[position] in '"[{':
        try:
            value, end = _DECODER.raw_decode(line, position)
        except ValueError:
            pass
        else:
            rest = line[end:].lstrip(" ")
            if not rest or rest.startswith(","):
                text = value if isinstance(value, str) else line[position:end]
                return text, end
    end = line.find(",", position)
    end = len(line) if end < 0 else end
    return line[position:end].strip(), end


def parse_settings_line(line: str) -> dict[str, str]:
    """``"Steps: 20, Sampler: Euler a, Lora hashes: \\"a: 1\\""`` → {"Steps": "20", …}.

    Text that is not a ``key: value`` pair is skipped up to the next comma, as A1111 does.
    """
    pairs: dict[str, str] = {}
    position = 0
    while position < len(line):
        match = _KEY.match(line, position)
        if match is None:
            comma = line.find(",", position)
            if comma < 0:
                break
            position = comma + 1
            continue
        value, end = _parse_value(line, match.end())
        pairs.setdefault(match.group(1), value)
        comma = line.find(",", end)
        position = len(line) if comma < 0 else comma + 1
    return pairs


def _is_settings_line(pairs: dict[str, str]) -> bool:
    return len(pairs) >= _MIN_PAIRS and bool(_KNOWN_KEYS & set(pairs))


def parse_infotext(text: str) -> dict[str, str]:
    """Split A1111 infotext into ``"prompt"``, ``"negative_prompt"`` and its settings.

    The result holds ``"prompt"`` (always), ``"negative_prompt"`` (when the text has one) and
    every setting under its own name (``"Steps"``, ``"Sampler"``, ``"Size"``…), values unquoted.
    Prompts may span lines; line ends may be ``\\r\\n``; without a settings line the whole text
    is the prompt. Never raises.
    """
    lines = clean_text(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    settings: dict[str, str] = {}
    settings_at = None
    # The settings are the last line in A1111, but extensions (Dynamic Prompts' "Template:")
    # append lines after it, so take the last line that looks like settings.
    for index in range(len(lines) - 1, -1, -1):
        pairs = parse_settings_line(lines[index])
        if _is_settings_line(pairs):
            settings, settings_at = pairs, index
            break
    body = lines if settings_at is None else lines[:settings_at]
    if settings_at is not None:
        for trailing in lines[settings_at + 1 :]:
            for key, value in parse_settings_line(trailing).items():
                settings.setdefault(key, value)
    negative_at = next(
        (i for i, line in enumerate(body) if line.lower().startswith(_NEGATIVE_PREFIX)), None
    )
    result: dict[str, str] = {}
    if negative_at is None:
        result[PROMPT_KEY] = "\n".join(body).strip()
    else:
        result[PROMPT_KEY] = "\n".join(body[:negative_at]).strip()
        negative = [body[negative_at][len(_NEGATIVE_PREFIX) :], *body[negative_at + 1 :]]
        result[NEGATIVE_KEY] = "\n".join(negative).strip()
    for key, value in settings.items():
        result.setdefault(key, value)
    return result


def looks_like_infotext(text: str) -> bool:
    """True when ``text`` has an A1111 settings line or a ``Negative prompt:`` line."""
    parsed = parse_infotext(text)
    return NEGATIVE_KEY in parsed or any(key in parsed for key in _KNOWN_KEYS)


def _flavour(settings: dict[str, str]) -> str:
    """Which A1111 descendant wrote this, from the keys and the version string it leaves."""
    version = settings.get("Version", "").strip()
    lowered = version.lower()
    if settings.get("App", "").lower().replace(" ", "") == "sd.next" or "sd.next" in lowered:
        return "sdnext"
    if any(key.startswith("Civitai") for key in settings) or "Created Date" in settings:
        return "civitai"
    if lowered.startswith("sd21-desktop"):
        return "sd21-desktop"
    if lowered.startswith("fooocus"):
        return "fooocus"
    # Forge writes "f2.0.1v1.10.1-…"; Forge Classic and Neo write "classic" / "neo".
    if re.match(r"^f\d", lowered) or lowered in ("classic", "neo") or "forge" in lowered:
        return "forge"
    return "a1111"


def from_infotext(text: str, source: str | None = None) -> ImportedMetadata:
    """An :class:`ImportedMetadata` from A1111 infotext (``source`` guessed when not given)."""
    parsed = parse_infotext(text)
    settings = {k: v for k, v in parsed.items() if k not in (PROMPT_KEY, NEGATIVE_KEY)}
    size = parse_size(settings.get("Size"))
    extra = {k: v for k, v in settings.items() if k not in _FIELD_KEYS}
    # SD.Next names the noise schedule "Sampler sigma" ("karras").
    schedule = settings.get("Schedule type") or settings.get("Sampler sigma")
    has_settings = _is_settings_line(settings)
    return ImportedMetadata(
        source=source or _flavour(settings),
        prompt=parsed[PROMPT_KEY],
        negative_prompt=parsed.get(NEGATIVE_KEY),
        seed=as_seed(settings.get("Seed")),
        steps=as_int(settings.get("Steps")),
        cfg_scale=as_float(settings.get("CFG scale")),
        sampler=settings.get("Sampler") or None,
        width=size[0] if size else None,
        height=size[1] if size else None,
        model=settings.get("Model") or None,
        extra=extra,
        schedule=schedule or None,
        problem=None if has_settings else "The text has no settings line; only prompts were read.",
    )


def _is_json_document(text: str) -> bool:
    # Prompts may start with "{" or "[" (wildcards, NovelAI emphasis); only real JSON is not ours.
    return isinstance(load_json(text), (dict, list))


def parse(sources: Sources) -> ImportedMetadata | str | None:
    """A1111 infotext from a PNG ``parameters`` chunk, EXIF UserComment, a JPEG comment or
    stealth pixels."""
    parameters = sources.texts.get("parameters")
    if (
        parameters is not None
        and not _is_json_document(parameters)
        and clean_text(parameters).strip()
    ):
        # A chunk named "parameters" is infotext even with no settings line.
        return from_infotext(parameters)
    for candidate in (
        sources.exif.get("UserComment"),
        sources.comment,
        sources.stealth,
        sources.exif.get("XPComment"),
    ):
        if candidate and not _is_json_document(candidate) and looks_like_infotext(candidate):
            return from_infotext(candidate)
    return None
