"""InvokeAI, three generations of it:

* 3.x-5.x: ``invokeai_metadata`` JSON (``positive_prompt``, ``negative_prompt``, ``model``…);
* 2.x: ``sd-metadata`` JSON, the prompt with its negative part in ``[brackets]``;
* 1.x-2.x: ``Dream``, a command line:
  ``"prompt [negative]" -s 50 -S 42 -W 512 -H 768 -C 7.5 -A k_lms``.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.result import ImportedMetadata
from sd21_desktop.gallery.importers.values import (
    as_float,
    as_int,
    as_seed,
    as_side,
    as_text,
    load_json_object,
    stringify,
)

_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
# Dream switches: the short form and its long alias → our field.
_DREAM_FLAGS = {
    "-s": "steps",
    "--steps": "steps",
    "-S": "seed",
    "--seed": "seed",
    "-W": "width",
    "--width": "width",
    "-H": "height",
    "--height": "height",
    "-C": "cfg_scale",
    "--cfg_scale": "cfg_scale",
    "-A": "sampler",
    "--sampler": "sampler",
    "-m": "model",
    "--model": "model",
}
_V3_FIELDS = {
    "positive_prompt",
    "negative_prompt",
    "width",
    "height",
    "seed",
    "cfg_scale",
    "steps",
    "scheduler",
    "model",
}


def split_negative(prompt: str) -> tuple[str, str]:
    """InvokeAI 2 puts the negative prompt in square brackets inside the prompt."""
    negative = ", ".join(part.strip() for part in _BRACKETS.findall(prompt) if part.strip())
    positive = _BRACKETS.sub("", prompt).strip()
    return positive, negative


def _model_name(value: Any) -> str | None:
    if isinstance(value, dict):
        return as_text(value.get("model_name")) or as_text(value.get("name"))
    return as_text(value)


def _from_v3(data: dict[str, Any]) -> ImportedMetadata:
    extra = {k: stringify(v) for k, v in data.items() if k not in _V3_FIELDS and v is not None}
    return ImportedMetadata(
        source="invokeai",
        prompt=as_text(data.get("positive_prompt")),
        negative_prompt=as_text(data.get("negative_prompt")),
        seed=as_seed(data.get("seed")),
        steps=as_int(data.get("steps")),
        cfg_scale=as_float(data.get("cfg_scale")),
        sampler=as_text(data.get("scheduler")),
        width=as_side(data.get("width")),
        height=as_side(data.get("height")),
        model=_model_name(data.get("model")),
        extra=extra,
    )


def _from_v2(data: dict[str, Any]) -> ImportedMetadata:
    image = data.get("image")
    image = image if isinstance(image, dict) else {}
    prompt_value = image.get("prompt")
    if isinstance(prompt_value, list):  # [{"prompt": …, "weight": …}, …]
        parts = [p.get("prompt") for p in prompt_value if isinstance(p, dict)]
        prompt_value = " ".join(p for p in parts if isinstance(p, str)) or None
    text = as_text(prompt_value)
    positive, negative = split_negative(text) if text is not None else (None, None)
    extra = {
        k: stringify(v)
        for k, v in image.items()
        if k not in {"prompt", "steps", "cfg_scale", "seed", "sampler", "width", "height"}
    }
    for key in ("app_id", "app_version", "model_hash"):
        if key in data:
            extra[key] = stringify(data[key])
    return ImportedMetadata(
        source="invokeai",
        prompt=positive,
        negative_prompt=negative,
        seed=as_seed(image.get("seed")),
        steps=as_int(image.get("steps")),
        cfg_scale=as_float(image.get("cfg_scale")),
        sampler=as_text(image.get("sampler")),
        width=as_side(image.get("width")),
        height=as_side(image.get("height")),
        model=as_text(data.get("model_weights")) or as_text(data.get("model")),
        extra=extra,
    )


def parse_dream(command: str) -> ImportedMetadata | None:
    """The ``Dream`` command line; None when it does not start with a quoted prompt."""
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes
        return None
    if not words or not command.lstrip().startswith(('"', "'")):
        return None
    positive, negative = split_negative(words[0])
    values: dict[str, str] = {}
    extra: dict[str, str] = {}
    index = 1
    while index < len(words):
        flag = words[index]
        arguments: list[str] = []
        index += 1
        while index < len(words) and not re.match(r"^--?[A-Za-z]", words[index]):
            arguments.append(words[index])
            index += 1
        if flag in _DREAM_FLAGS and arguments:
            values[_DREAM_FLAGS[flag]] = arguments[0]
        elif flag.startswith("-"):
            extra[flag.lstrip("-")] = " ".join(arguments)
    return ImportedMetadata(
        source="invokeai",
        prompt=positive,
        negative_prompt=negative,
        seed=as_seed(values.get("seed")),
        steps=as_int(values.get("steps")),
        cfg_scale=as_float(values.get("cfg_scale")),
        sampler=values.get("sampler"),
        width=as_side(values.get("width")),
        height=as_side(values.get("height")),
        model=values.get("model"),
        extra=extra,
    )


def parse(sources: Sources) -> ImportedMetadata | str | None:
    texts = sources.texts
    v3 = load_json_object(texts.get("invokeai_metadata"))
    if v3 is not None:
        return _from_v3(v3)
    v2 = load_json_object(texts.get("sd-metadata"))
    if v2 is not None:
        return _from_v2(v2)
    if "Dream" in texts:
        dream = parse_dream(texts["Dream"])
        return dream or "InvokeAI 'Dream' metadata was found but could not be read."
    if "invokeai_metadata" in texts or "sd-metadata" in texts:
        return "InvokeAI metadata was found, but it is not valid JSON."
    return None
