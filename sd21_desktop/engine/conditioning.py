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
def _fixes(text_encoder: Any, chunk: Chunk, embeddings: Mapping[str, Embedding]) -> Iterator[None]:
    """Put the embeddings' vectors in place of the token embeddings at their positions."""
    if not chunk.embeddings:
        yield
        return

    def replace(module: Any, inputs: Any, output: Any) -> Any:
        output = output.clone()
        for position, name in chunk.embeddings:
            vectors = embeddings[name].vectors
            output[0, position : position + len(vectors)] = vectors.to(output)
        return output

    handle = text_encoder.get_input_embeddings().register_forward_hook(replace)
    try:
        yield
    finally:
        handle.remove()


def _encode_chunk(
    text_encoder: Any, chunk: Chunk, embeddings: Mapping[str, Embedding], device: Any
) -> Any:
    import torch

    ids = torch.tensor([chunk.tokens], dtype=torch.long, device=device)
    with _fixes(text_encoder, chunk, embeddings):
        hidden = text_encoder(ids)[0]
    if all(weight == 1.0 for weight in chunk.weights):
        return hidden
    # "Original" emphasis: weight each token, then restore the chunk's mean.
    values = hidden.float()
    weights = torch.tensor(chunk.weights, dtype=torch.float32, device=values.device)
    weighted = values * weights.reshape(1, -1, 1)
    weighted = weighted * (values.mean() / weighted.mean())
    return weighted.to(hidden.dtype)


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
    encoded: list[Any] = []
    with torch.no_grad():
        for chunked in (positive, negative):
            chunks = list(chunked.chunks) + [empty] * (count - len(chunked.chunks))
            parts = [_encode_chunk(text_encoder, chunk, embeddings, device) for chunk in chunks]
            encoded.append(torch.cat(parts, dim=1).to(dtype=text_encoder.dtype))
    used = positive.embeddings_used + [
        name for name in negative.embeddings_used if name not in positive.embeddings_used
    ]
    return Conditioning(encoded[0], encoded[1], tuple(used), count)
