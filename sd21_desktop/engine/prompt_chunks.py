"""Splitting a weighted prompt into 75-token chunks, as AUTOMATIC1111 does (no torch).

A chunk is what CLIP reads at once: a start token, 75 prompt tokens and an end token. Past 75
tokens a new chunk begins; when a comma lies within the last ``comma_backtrack`` (20) tokens of
a full chunk, the text after that comma moves to the next chunk so a phrase is not cut in two;
``BREAK`` starts a new chunk at once. A textual-inversion embedding occupies as many positions as
it has vectors and never straddles two chunks.

Each chunk is laid out as the SD2 tokenizer lays out a short prompt: start, tokens, end, then the
pad token to 77 (AUTOMATIC1111 pads with end tokens and then overwrites everything after the
first end token with the pad token for SD2: the same ids). The encoder
(:mod:`sd21_desktop.engine.prompt_encoding`) and the GUI's token counter share this code, so the
counter shows what the model reads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sd21_desktop.engine.prompt_syntax import is_break, parse_prompt_attention

CHUNK_TOKENS = 75
COMMA_BACKTRACK = 20
Tokenize = Callable[[list[str]], list[list[int]]]
"""Texts -> their token ids, without start/end tokens."""


@dataclass(frozen=True)
class SpecialTokens:
    bos: int
    eos: int
    pad: int
    comma: int


@dataclass
class Chunk:
    tokens: list[int] = field(default_factory=list)
    """Prompt tokens only while building; start/end/pad added by :func:`finish`."""
    weights: list[float] = field(default_factory=list)
    embeddings: list[tuple[int, str]] = field(default_factory=list)
    """(position in the finished 77-token chunk, embedding name) of each embedding used."""


@dataclass(frozen=True)
class ChunkedPrompt:
    chunks: tuple[Chunk, ...]
    token_count: int
    """Tokens the prompt uses, counting the padding that comma breaks and BREAK add."""

    @property
    def target(self) -> int:
        """The counter's denominator: 75, 150, … (AUTOMATIC1111's target token count)."""
        return math.ceil(max(self.token_count, 1) / CHUNK_TOKENS) * CHUNK_TOKENS

    @property
    def embeddings_used(self) -> list[str]:
        names: list[str] = []
        for chunk in self.chunks:
            for _, name in chunk.embeddings:
                if name not in names:
                    names.append(name)
        return names


class EmbeddingVocabulary:
    """Finds embedding names in token sequences (the longest name first, as A1111 does)."""

    def __init__(self, vectors: Mapping[str, int], tokenize: Tokenize) -> None:
        names = list(vectors)
        self.by_first: dict[int, list[tuple[list[int], str, int]]] = {}
        for name, ids in zip(names, tokenize(names) if names else [], strict=True):
            if ids:
                self.by_first.setdefault(ids[0], []).append((ids, name, vectors[name]))
        for candidates in self.by_first.values():
            candidates.sort(key=lambda item: -len(item[0]))

    def match(self, tokens: Sequence[int], position: int) -> tuple[str, int, int] | None:
        """(name, vectors, tokens its name spans) of the embedding at ``position``, if any."""
        for ids, name, count in self.by_first.get(tokens[position], []):
            if list(tokens[position : position + len(ids)]) == ids:
                return name, count, len(ids)
        return None


class _Builder:
    def __init__(self, special: SpecialTokens, comma_backtrack: int) -> None:
        self.special = special
        self.backtrack = comma_backtrack
        self.chunks: list[Chunk] = []
        self.chunk = Chunk()
        self.token_count = 0
        self.last_comma = -1

    def next_chunk(self, is_last: bool = False) -> None:
        self.token_count += len(self.chunk.tokens) if is_last else CHUNK_TOKENS
        self.chunks.append(finish(self.chunk, self.special))
        self.chunk = Chunk()
        self.last_comma = -1

    def make_room(self, token: int) -> None:
        """Before each token: note commas, move the text after a near comma on, start a new
        chunk when this one is full."""
        chunk = self.chunk
        if token == self.special.comma:
            self.last_comma = len(chunk.tokens)
        elif (
            self.backtrack
            and len(chunk.tokens) == CHUNK_TOKENS
            and self.last_comma != -1
            and len(chunk.tokens) - self.last_comma <= self.backtrack
        ):
            cut = self.last_comma + 1
            moved = Chunk(chunk.tokens[cut:], chunk.weights[cut:])
            # Embeddings after the comma move with their tokens.
            moved.embeddings = [(at - cut, name) for at, name in chunk.embeddings if at >= cut]
            chunk.tokens, chunk.weights = chunk.tokens[:cut], chunk.weights[:cut]
            chunk.embeddings = [(at, name) for at, name in chunk.embeddings if at < cut]
            self.next_chunk()
            self.chunk = moved
        if len(self.chunk.tokens) == CHUNK_TOKENS:
            self.next_chunk()

    def add_embedding(self, name: str, vectors: int, weight: float) -> None:
        if len(self.chunk.tokens) + vectors > CHUNK_TOKENS:
            self.next_chunk()
        self.chunk.embeddings.append((len(self.chunk.tokens), name))
        self.chunk.tokens += [self.special.pad] * vectors
        self.chunk.weights += [weight] * vectors


def finish(chunk: Chunk, special: SpecialTokens) -> Chunk:
    """Start + tokens + end + padding to 77; embedding positions shift by the start token."""
    padding = CHUNK_TOKENS - len(chunk.tokens)
    return Chunk(
        [special.bos, *chunk.tokens, special.eos] + [special.pad] * padding,
        [1.0, *chunk.weights, 1.0] + [1.0] * padding,
        [(at + 1, name) for at, name in chunk.embeddings],
    )


def chunk_prompt(
    text: str,
    tokenize: Tokenize,
    special: SpecialTokens,
    embeddings: EmbeddingVocabulary | None = None,
    comma_backtrack: int = COMMA_BACKTRACK,
) -> ChunkedPrompt:
    """The 77-token chunks of ``text`` (extra-network tags already removed)."""
    parsed = parse_prompt_attention(text)
    builder = _Builder(special, comma_backtrack)
    for tokens, (piece, weight) in zip(tokenize([p for p, _ in parsed]), parsed, strict=True):
        if is_break(piece, weight):
            builder.next_chunk()
            continue
        position = 0
        while position < len(tokens):
            # The comma/full-chunk rules run before each token or embedding, as in A1111.
            builder.make_room(tokens[position])
            found = embeddings.match(tokens, position) if embeddings is not None else None
            if found is None:
                builder.chunk.tokens.append(tokens[position])
                builder.chunk.weights.append(weight)
                position += 1
                continue
            name, vectors, spanned = found
            builder.add_embedding(name, vectors, weight)
            position += spanned
    if builder.chunk.tokens or not builder.chunks:
        builder.next_chunk(is_last=True)
    return ChunkedPrompt(tuple(builder.chunks), builder.token_count)
