"""Counting prompt tokens against CLIP's 77-token window, without torch.

SD2's text encoder sees at most 77 tokens: a start token, 75 for the prompt, an end token. Words
past that are silently dropped by the pipeline, so the prompt editor shows the count and marks
where the cut falls. The count uses the model's own tokenizer file when one is loaded, else the
CLIP vocabulary bundled in ``resources/clip_tokenizer`` (the same for every SD2 model).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

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
