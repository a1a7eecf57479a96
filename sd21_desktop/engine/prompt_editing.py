"""What the prompt editor needs from the syntax, as plain functions (no Qt, no torch).

* :func:`syntax_spans`: where weights, ``BREAK``, LoRA tags and embedding names are, for the
  editor's highlighting.
* :func:`adjust_weight`: Ctrl+Up / Ctrl+Down as AUTOMATIC1111's ``edit-attention.js`` does it:
  the selection, else the ``(…:w)`` group or the word under the cursor, gets ``(text:1.1)``, or
  its weight moved by 0.1; a weight that reaches 1 drops its brackets. Inside a ``<lora:…>`` tag
  the tag's weight moves instead.
* :func:`completion_prefix`: what is being typed at the cursor (after ``<lora:`` or a word).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sd21_desktop.engine.prompt_syntax import LORA_TYPES, name_pattern

_TAG = re.compile(r"<(\w+):([^>]*)>")
_WEIGHTED = re.compile(r":\s*([+-]?[.\d]+)\s*\)")
_BREAK_WORD = re.compile(r"\bBREAK\b")
_BRACKETS = re.compile(r"\\[()\[\]\\]|[()\[\]]")
_WORD_DELIMITERS = set(".,\\/!?%^*;:{}=`~() \t\n[]<>")
WEIGHT_STEP = 0.1


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str
    """"lora", "tag" (another extra network), "break", "bracket", "weight", "embedding"."""


def syntax_spans(text: str, embedding_names: Iterable[str] = ()) -> list[Span]:
    spans: list[Span] = []
    tags = [(m.start(), m.end()) for m in _TAG.finditer(text)]

    def in_tag(position: int) -> bool:
        return any(start <= position < end for start, end in tags)

    for match in _TAG.finditer(text):
        kind = "lora" if match.group(1).lower() in LORA_TYPES else "tag"
        spans.append(Span(match.start(), match.end(), kind))
    for match in _BRACKETS.finditer(text):
        if not in_tag(match.start()) and not match.group(0).startswith("\\"):
            spans.append(Span(match.start(), match.end(), "bracket"))
    for match in _WEIGHTED.finditer(text):
        if not in_tag(match.start()):
            spans.append(Span(match.start(1), match.end(1), "weight"))
    for match in _BREAK_WORD.finditer(text):
        spans.append(Span(match.start(), match.end(), "break"))
    for name in embedding_names:
        for match in name_pattern(name).finditer(text):
            if not in_tag(match.start()):
                spans.append(Span(match.start(), match.end(), "embedding"))
    return sorted(spans, key=lambda span: (span.start, span.end))


def _format(weight: float) -> str:
    return f"{round(weight, 2):g}"


def _enclosing_group(text: str, cursor: int) -> tuple[int, int] | None:
    """(start, end) of the text of the ``(text:w)`` group around ``cursor``."""
    depth, position = 0, cursor
    while position > 0:
        position -= 1
        char = text[position]
        if char == ")" and (position == 0 or text[position - 1] != "\\"):
            depth += 1
        elif char == "(" and (position == 0 or text[position - 1] != "\\"):
            if depth == 0:
                match = _WEIGHTED.search(text, cursor)
                close = text.find(")", cursor)
                if match and close >= 0 and match.end() - 1 == close:
                    return position + 1, match.start()
                return None
            depth -= 1
    return None


def _word_at(text: str, cursor: int) -> tuple[int, int]:
    start = cursor
    while start > 0 and text[start - 1] not in _WORD_DELIMITERS:
        start -= 1
    end = cursor
    while end < len(text) and text[end] not in _WORD_DELIMITERS:
        end += 1
    return start, end


def _adjust_tag(text: str, cursor: int, delta: float) -> tuple[str, int, int] | None:
    for match in _TAG.finditer(text):
        if match.start() < cursor < match.end() and match.group(1).lower() in LORA_TYPES:
            parts = match.group(2).split(":")
            try:
                weight = float(parts[1]) if len(parts) > 1 else 1.0
            except ValueError:
                return None
            body = ":".join([parts[0], _format(weight + delta), *parts[2:]])
            new_tag = f"<{match.group(1)}:{body}>"
            new_text = text[: match.start()] + new_tag + text[match.end() :]
            return new_text, match.start(), match.start() + len(new_tag)
    return None


def adjust_weight(text: str, start: int, end: int, delta: float) -> tuple[str, int, int]:
    """The text after Ctrl+Up (``delta`` 0.1) or Ctrl+Down (-0.1) on the selection
    ``start``..``end``, and the new selection (the weighted text)."""
    if start == end:
        tag = _adjust_tag(text, start, delta)
        if tag is not None:
            return tag
        start, end = _enclosing_group(text, start) or _word_at(text, start)
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    if start == end:
        return text, start, end
    after = _WEIGHTED.match(text, end)
    if start > 0 and text[start - 1] == "(" and after is not None:
        weight = round(float(after.group(1)) + delta, 2) if _number(after.group(1)) else None
        if weight is not None:
            if weight == 1.0:
                new_text = text[: start - 1] + text[start:end] + text[after.end() :]
                return new_text, start - 1, end - 1
            new_text = text[:end] + f":{_format(weight)})" + text[after.end() :]
            return new_text, start, end
    weighted = f"({text[start:end]}:{_format(1.0 + delta)})"
    return text[:start] + weighted + text[end:], start + 1, end + 1


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CompletionContext:
    kind: str
    """"lora" after ``<lora:``, else "word"."""
    prefix: str
    start: int
    """Where the typed prefix starts (what a completion replaces up to the cursor)."""


def completion_prefix(text: str, cursor: int) -> CompletionContext | None:
    before = text[:cursor]
    tag = re.search(r"<(lora|lyco):([^:>]*)$", before)
    if tag is not None:
        return CompletionContext("lora", tag.group(2), tag.start(2))
    word = re.search(r"[\w\-]+$", before)
    if word is None or len(word.group(0)) < 2:
        return None
    return CompletionContext("word", word.group(0), word.start())
