"""Prompt and negative prompt -> ``prompt_embeds`` / ``negative_prompt_embeds``, A1111-style.

Each 77-token chunk (:mod:`sd21_desktop.engine.prompt_chunks`) goes through the text encoder on
its own, exactly as diffusers' ``encode_prompt`` sends a prompt: batch of one, no attention mask
(SD2's encoder config asks for none), the last hidden state after the final layer norm (SD2's
diffusers text encoder already ends at OpenCLIP's penultimate layer; diffusers' ``clip_skip``
None). Embedding vectors replace the token embeddings at their positions (AUTOMATIC1111's
"fixes"); then the "original" emphasis multiplies each token's output by its weight and rescales
the chunk so its mean is unchanged. The chunks are concatenated along the sequence; the shorter
of prompt and negative prompt is padded with chunks of the empty prompt.

A prompt with no syntax therefore gives exactly diffusers' embeddings (tested), and the
pipeline is called with embeddings instead of text.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sd21_desktop.engine.embeddings import Embedding
from sd21_desktop.engine.prompt_chunks import (
    COMMA_BACKTRACK,
    Chunk,
    ChunkedPrompt,
    EmbeddingVocabulary,
    SpecialTokens,
    Tokenize,
    chunk_prompt,
)


@dataclass(frozen=True)
class Conditioning:
    prompt_embeds: Any
    negative_prompt_embeds: Any
    embeddings_used: tuple[str, ...]
    chunks: int


def special_tokens(tokenizer: Any) -> SpecialTokens:
    eos = int(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id
    return SpecialTokens(
        bos=int(tokenizer.bos_token_id),
        eos=eos,
        pad=eos if pad is None else int(pad),
        comma=int(tokenizer.convert_tokens_to_ids(",</w>")),
    )


def tokenizer_function(tokenizer: Any) -> Tokenize:
    def tokenize(texts: list[str]) -> list[list[int]]:
        # verbose=False: no "longer than 77 tokens" warning; chunking handles any length.
        ids = tokenizer(texts, truncation=False, add_special_tokens=False, verbose=False)[
            "input_ids"
        ]
        return [list(row) for row in ids]

    return tokenize


def chunk_prompts(
    tokenizer: Any,
    prompts: Sequence[str],
    embeddings: Mapping[str, Embedding],
    comma_backtrack: int = COMMA_BACKTRACK,
) -> list[ChunkedPrompt]:
    tokenize = tokenizer_function(tokenizer)
    vocabulary = EmbeddingVocabulary({n: e.count for n, e in embeddings.items()}, tokenize)
    special = special_tokens(tokenizer)
    return [chunk_prompt(p, tokenize, special, vocabulary, comma_backtrack) for p in prompts]


@contextmanager
def _fixes(
    text_encoder: Any, chunks: Sequence[Chunk], embeddings: Mapping[str, Embedding]
) -> Iterator[None]:
    """Put the embeddings' vectors in place of the token embeddings at their positions."""
    if not any(chunk.embeddings for chunk in chunks):
        yield
        return

    def replace(module: Any, inputs: Any, output: Any) -> Any:
        output = output.clone()
        for row, chunk in enumerate(chunks):
            for position, name in chunk.embeddings:
                vectors = embeddings[name].vectors
                output[row, position : position + len(vectors)] = vectors.to(output)
        return output

    handle = text_encoder.get_input_embeddings().register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()


def _encode_chunks(
    text_encoder: Any, chunks: Sequence[Chunk], embeddings: Mapping[str, Embedding], device: Any
) -> Any:
    """The chunks through the text encoder in one batch, each with its emphasis: (n, 77, width)."""
    import torch

    ids = torch.tensor([chunk.tokens for chunk in chunks], dtype=torch.long, device=device)
    with _fixes(text_encoder, chunks, embeddings):
        hidden = text_encoder(ids)[0]
    if all(weight == 1.0 for chunk in chunks for weight in chunk.weights):
        return hidden
    # "Original" emphasis: weight each token, then restore each chunk's mean.
    values = hidden.float()
    weights = torch.tensor([c.weights for c in chunks], dtype=torch.float32, device=values.device)
    weighted = values * weights.unsqueeze(-1)
    means = values.mean(dim=(1, 2), keepdim=True) / weighted.mean(dim=(1, 2), keepdim=True)
    return (weighted * means).to(hidden.dtype)


def _key(chunk: Chunk) -> tuple[Any, ...]:
    return (tuple(chunk.tokens), tuple(chunk.weights), tuple(chunk.embeddings))


def _encode_all(
    text_encoder: Any,
    rows: list[list[Chunk]],
    embeddings: Mapping[str, Embedding],
    device: Any,
) -> list[Any]:
    """Each row of chunks encoded and joined along the sequence: (1, 77 x chunks, width).

    One chunk each (the usual case) goes through the encoder one prompt at a time, exactly as
    diffusers' ``encode_prompt`` does (a batch could differ in the last bits); longer prompts
    send their distinct chunks (the empty padding chunk once) in one batch, which is faster.
    """
    import torch

    if all(len(row) == 1 for row in rows):
        return [_encode_chunks(text_encoder, row, embeddings, device) for row in rows]
    distinct: dict[tuple[Any, ...], int] = {}
    unique: list[Chunk] = []
    for chunk in (chunk for row in rows for chunk in row):
        if _key(chunk) not in distinct:
            distinct[_key(chunk)] = len(unique)
            unique.append(chunk)
    encoded = _encode_chunks(text_encoder, unique, embeddings, device)
    return [
        torch.cat([encoded[distinct[_key(chunk)]].unsqueeze(0) for chunk in row], dim=1)
        for row in rows
    ]


def encode_conditioning(
    pipeline: Any,
    prompt: str,
    negative_prompt: str,
    embeddings: Mapping[str, Embedding] | None = None,
    comma_backtrack: int = COMMA_BACKTRACK,
) -> Conditioning:
    """The embeddings diffusers' pipelines take as ``prompt_embeds`` and
    ``negative_prompt_embeds`` (one prompt; the pipeline repeats them for a batch).

    ``prompt`` and ``negative_prompt`` must have their ``<lora:…>`` tags removed already.
    """
    import torch

    embeddings = embeddings or {}
    text_encoder = pipeline.text_encoder
    device = pipeline._execution_device  # where diffusers runs it (CPU offload moves it there)
    positive, negative = chunk_prompts(
        pipeline.tokenizer, [prompt, negative_prompt], embeddings, comma_backtrack
    )
    empty = chunk_prompts(pipeline.tokenizer, [""], {}, comma_backtrack)[0].chunks[0]
    count = max(len(positive.chunks), len(negative.chunks))
    rows = [list(c.chunks) + [empty] * (count - len(c.chunks)) for c in (positive, negative)]
    with torch.no_grad():
        encoded = [
            part.to(dtype=text_encoder.dtype)
            for part in _encode_all(text_encoder, rows, embeddings, device)
        ]
    used = positive.embeddings_used + [
        name for name in negative.embeddings_used if name not in positive.embeddings_used
    ]
    return Conditioning(encoded[0], encoded[1], tuple(used), count)
