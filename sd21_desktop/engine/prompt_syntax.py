"""The prompt syntax of AUTOMATIC1111's web UI, as plain Python (no torch, no tokenizer).

* Emphasis: ``(text)`` x1.1, ``((text))`` x1.21, ``[text]`` /1.1, ``(text:1.5)``, nesting;
  ``\\(`` ``\\)`` ``\\[`` ``\\]`` ``\\\\`` are literal characters. Unbalanced brackets are
  tolerated the way that program tolerates them: a bracket left open weights everything after it,
  a closing bracket without an opening one is plain text.
* ``BREAK`` (upper case, a whole word) ends the current 75-token chunk.
* Extra networks: ``<lora:name>``, ``<lora:name:0.8>``, ``<lora:name:te:unet>`` are taken out of
  the text before any of the above; the LoRAs are applied to the model instead.

:func:`parse_prompt_attention` returns what AUTOMATIC1111's function of the same name returns
for the same text (``modules/prompt_parser.py``, v1.10), including its quirks: ``BREAK`` is the
pair ``("BREAK", -1.0)`` and runs of equal weight are merged. One difference: a weight that is
not a number (``(a:1.2.3)``) makes that program raise; here the ``:1.2.3`` is kept as text and
the ``)`` closes the bracket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sd21_desktop.errors import InvalidRequestError

ROUND_MULTIPLIER = 1.1
SQUARE_MULTIPLIER = 1 / 1.1
BREAK_WORD = "BREAK"
BREAK_WEIGHT = -1.0

_ATTENTION = re.compile(
    r"""
    \\\( | \\\) | \\\[ | \\\] | \\\\ | \\     # escapes (a lone backslash too)
    | \( | \[                                 # openers
    | :\s*(?P<weight>[+-]?[.\d]+)\s*\)        # ":1.3)" closes a round bracket with a weight
    | \) | \]                                 # closers
    | [^\\()\[\]:]+                           # plain text
    | :                                       # a colon that is not a weight
    """,
    re.X,
)
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)
_EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")
LORA_TYPES = ("lora", "lyco")
"""Extra-network tags read as LoRAs (``lyco`` is the LyCORIS extension's older name)."""


def parse_prompt_attention(text: str) -> list[tuple[str, float]]:
    """``"an (important) word"`` -> ``[("an ", 1.0), ("important", 1.1), (" word", 1.0)]``."""
    parts: list[list[object]] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def multiply_from(start: int, factor: float) -> None:
        for part in parts[start:]:
            part[1] = float(part[1]) * factor  # type: ignore[arg-type]

    for match in _ATTENTION.finditer(text):
        piece, weight = match.group(0), match.group("weight")
        number = _number(weight)
        if piece.startswith("\\"):
            parts.append([piece[1:], 1.0])
        elif piece == "(":
            round_open.append(len(parts))
        elif piece == "[":
            square_open.append(len(parts))
        elif weight is not None and number is not None and round_open:
            multiply_from(round_open.pop(), number)
        elif weight is not None and number is None:
            # Not a number: keep ":…" as text, let the ")" close its bracket as usual.
            _add_text(parts, piece[:-1])
            if round_open:
                multiply_from(round_open.pop(), ROUND_MULTIPLIER)
            else:
                _add_text(parts, ")")
        elif piece == ")" and round_open:
            multiply_from(round_open.pop(), ROUND_MULTIPLIER)
        elif piece == "]" and square_open:
            multiply_from(square_open.pop(), SQUARE_MULTIPLIER)
        else:
            _add_text(parts, piece)
    for start in round_open:
        multiply_from(start, ROUND_MULTIPLIER)
    for start in square_open:
        multiply_from(start, SQUARE_MULTIPLIER)
    if not parts:
        parts = [["", 1.0]]
    return _merge_equal_weights(parts)


def _number(weight: str | None) -> float | None:
    if weight is None:
        return None
    try:
        return float(weight)
    except ValueError:
        return None


def _add_text(parts: list[list[object]], piece: str) -> None:
    """Plain text, split at each ``BREAK`` into text, the BREAK marker, text."""
    for index, part in enumerate(_BREAK.split(piece)):
        if index > 0:
            parts.append([BREAK_WORD, BREAK_WEIGHT])
        parts.append([part, 1.0])


def _merge_equal_weights(parts: list[list[object]]) -> list[tuple[str, float]]:
    merged: list[tuple[str, float]] = []
    for text, weight in parts:
        assert isinstance(text, str)
        value = float(weight)  # type: ignore[arg-type]
        if merged and merged[-1][1] == value:
            merged[-1] = (merged[-1][0] + text, value)
        else:
            merged.append((text, value))
    return merged


def is_break(text: str, weight: float) -> bool:
    """The BREAK marker. Inside brackets its -1 gets multiplied too; AUTOMATIC1111 then encodes
    the word "break" with a negative weight. Here it still breaks (the word BREAK in a prompt
    always becomes the marker, so nothing else has this text and a negative weight)."""
    return text == BREAK_WORD and weight < 0


@dataclass(frozen=True)
class LoraTag:
    """One ``<lora:name:…>`` tag of a prompt."""

    name: str
    text_encoder_weight: float
    unet_weight: float
    span: tuple[int, int]
    """Where the tag is in the original text (start, end)."""


@dataclass(frozen=True)
class ExtraNetworks:
    """A prompt with its extra-network tags taken out."""

    text: str
    loras: tuple[LoraTag, ...]
    ignored: tuple[str, ...]
    """Tags of kinds this app does not run (``<hypernet:…>``), removed from the text too."""


def name_pattern(name: str) -> re.Pattern[str]:
    """Where a prompt names an embedding: the name as a whole word, any case (the tokenizer
    lowercases, so AUTOMATIC1111's token matching ignores case too)."""
    return re.compile(r"(?<![\w])" + re.escape(name) + r"(?![\w])", re.IGNORECASE)


def strip_extra_networks(prompt: str) -> str:
    """``prompt`` without its ``<kind:…>`` tags (never raises; for counting and display)."""
    return _EXTRA_NETWORK.sub("", prompt)


def extract_extra_networks(prompt: str) -> ExtraNetworks:
    """Take every ``<kind:…>`` tag out of ``prompt``, as AUTOMATIC1111 does before encoding.

    ``<lora:name>`` has weight 1; ``<lora:name:w>`` weights text encoder and UNet by w;
    ``<lora:name:te:unet>`` (or ``te=``/``unet=``) weights them separately. A weight that is
    not a number raises :class:`InvalidRequestError` naming the tag.
    """
    loras: list[LoraTag] = []
    ignored: list[str] = []
    for match in _EXTRA_NETWORK.finditer(prompt):
        kind, arguments = match.group(1), match.group(2)
        if kind.lower() not in LORA_TYPES:
            ignored.append(match.group(0))
            continue
        name, *arguments_after = [item.strip() for item in arguments.split(":")]
        positional = [value for value in arguments_after if "=" not in value]
        named = dict(value.split("=", 1) for value in arguments_after if "=" in value)
        te = _tag_weight(match.group(0), named.get("te", positional[0] if positional else "1"))
        unet_text = named.get("unet", positional[1] if len(positional) > 1 else None)
        unet = te if unet_text is None else _tag_weight(match.group(0), unet_text)
        loras.append(LoraTag(name, te, unet, match.span()))
    return ExtraNetworks(_EXTRA_NETWORK.sub("", prompt), tuple(loras), tuple(ignored))


def _tag_weight(tag: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InvalidRequestError(
            "prompt", f"The weight {value!r} in {tag} is not a number.", "Write it like 0.8."
        ) from None
