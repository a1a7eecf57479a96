"""Counting prompt tokens, without torch.

SD2's text encoder reads 77 tokens at a time: a start token, 75 for the prompt, an end token.
Longer prompts are encoded in chunks of 75 (:mod:`sd21_desktop.engine.prompt_chunks`), so the
prompt editor shows ``n/75``, ``n/150``, … computed by the same chunking code the engine uses,
with weights, ``BREAK``, LoRA tags and embeddings (their vectors) taken into account
(:func:`count_prompt`). :func:`count_tokens` counts plain tokens against one window. The count
uses the CLIP vocabulary bundled in ``resources/clip_tokenizer`` (the same for every SD2 model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sd21_desktop.engine.prompt_chunks import (
    EmbeddingVocabulary,
    SpecialTokens,
    Tokenize,
    chunk_prompt,
)
from sd21_desktop.engine.prompt_syntax import strip_extra_networks
from sd21_desktop.paths import resources_dir

CONTEXT_TOKENS = 77
PROMPT_TOKENS = CONTEXT_TOKENS - 2


@dataclass(frozen=True)
class TokenCount:
    count: int
    """Prompt tokens, start and end tokens excluded."""
    limit: int
    dropped_from: int | None
    """Character offset where the dropped part of the text begins, if any."""

    @property
    def over_limit(self) -> bool:
        return self.count > self.limit


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(path)
    _loaded_paths.add(path)
    return tokenizer


def bundled_tokenizer_path() -> Path:
    return resources_dir() / "clip_tokenizer" / "tokenizer.json"


def load_tokenizer(tokenizer_file: Path | None = None) -> None:
    """Read the tokenizer file (~0.1 s); the GUI calls this off its thread at start-up."""
    _tokenizer(str(tokenizer_file or bundled_tokenizer_path()))


def tokenizer_loaded(tokenizer_file: Path | None = None) -> bool:
    path = str(tokenizer_file or bundled_tokenizer_path())
    return any(path == key for key in _loaded_paths)


_loaded_paths: set[str] = set()


def count_tokens(text: str, tokenizer_file: Path | None = None) -> TokenCount:
    tokenizer = _tokenizer(str(tokenizer_file or bundled_tokenizer_path()))
    encoding = tokenizer.encode(text)
    # The encoding wraps the prompt in start/end tokens whose offsets are (0, 0).
    offsets = [span for span, special in zip(encoding.offsets, encoding.special_tokens_mask,
                                              strict=True) if not special]
    dropped_from = offsets[PROMPT_TOKENS][0] if len(offsets) > PROMPT_TOKENS else None
    return TokenCount(len(offsets), PROMPT_TOKENS, dropped_from)


@dataclass(frozen=True)
class PromptCount:
    count: int
    """Tokens used, with the padding that BREAK and comma breaks add (AUTOMATIC1111's count)."""
    target: int
    """75, 150, …: the tokens the chunks in use hold."""
    chunks: int


def _tokenize_with(tokenizer: Any) -> Tokenize:
    def tokenize(texts: list[str]) -> list[list[int]]:
        encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        return [list(encoding.ids) for encoding in encodings]

    return tokenize


def count_prompt(
    text: str,
    embedding_vectors: Mapping[str, int] | None = None,
    tokenizer_file: Path | None = None,
) -> PromptCount:
    """How many tokens and chunks the engine will use for ``text``."""
    tokenizer = _tokenizer(str(tokenizer_file or bundled_tokenizer_path()))
    tokenize = _tokenize_with(tokenizer)
    special = SpecialTokens(
        bos=tokenizer.token_to_id("<|startoftext|>"),
        eos=tokenizer.token_to_id("<|endoftext|>"),
        pad=tokenizer.token_to_id("!"),
        comma=tokenizer.token_to_id(",</w>"),
    )
    vocabulary = EmbeddingVocabulary(dict(embedding_vectors or {}), tokenize)
    chunked = chunk_prompt(strip_extra_networks(text), tokenize, special, vocabulary)
    return PromptCount(chunked.token_count, chunked.target, len(chunked.chunks))
