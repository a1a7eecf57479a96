"""Prompt encoding: no syntax equals diffusers, weights, long prompts, negative padding.

The engine's parity tests for every mode (test_parity, test_img2img, test_depth, test_upscale)
compare against diffusers called with *text* prompts while the engine passes embeddings from
:mod:`sd21_desktop.engine.prompt_encoding`: they are the "pixel-identical in every mode" tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sd21_desktop.engine.prompt_encoding import chunk_prompts, encode_conditioning
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine

WORDS = ["red", "green", "blue", "fox", "cat", "dog", "tree", "house", "sky", "sea", "moon"]
LONG_PROMPT = " ".join(WORDS[i % len(WORDS)] for i in range(200))  # 200 tokens, no comma


@pytest.fixture(scope="module")
def pipeline() -> Any:
    from sd21_desktop.engine.synthetic import build_pipeline

    return build_pipeline()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def _request(model: Path, prompt: str, negative: str = "", **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = dict(
        prompt=prompt,
        negative_prompt=negative,
        model=str(model),
        seed=7,
        steps=3,
        guidance_scale=7.0,
        width=64,
        height=64,
    )
    values.update(changes)
    return GenerationRequest(**values)


def _pixels(engine: Engine, request: GenerationRequest) -> np.ndarray:
    return np.array(engine.generate(request).images[0])


@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        ("a watercolour fox in the snow", "blurry, low quality"),
        ("a watercolour fox in the snow", ""),
        ("", ""),
        ("TEXT with CAPITALS,punctuation!! and ünïcode ✓", "x"),
    ],
)
def test_no_syntax_equals_diffusers_encode_prompt(
    pipeline: Any, prompt: str, negative: str
) -> None:
    import torch

    ours = encode_conditioning(pipeline, prompt, negative)
    theirs, their_negative = pipeline.encode_prompt(
        prompt, torch.device("cpu"), 1, True, negative or None
    )
    assert torch.equal(ours.prompt_embeds, theirs)
    assert torch.equal(ours.negative_prompt_embeds, their_negative)
    assert ours.chunks == 1


def test_weight_one_equals_plain_text(pipeline: Any) -> None:
    import torch

    plain = encode_conditioning(pipeline, "a cat", "")
    weighted = encode_conditioning(pipeline, "(a cat:1.0)", "")
    assert torch.equal(plain.prompt_embeds, weighted.prompt_embeds)


def test_original_emphasis_weights_tokens_and_keeps_the_mean(pipeline: Any) -> None:
    import torch

    plain = encode_conditioning(pipeline, "a cat on a mat", "").prompt_embeds
    weighted = encode_conditioning(pipeline, "a (cat:1.5) on a mat", "").prompt_embeds
    # "cat" is token 2 (after start and "a"); every token is rescaled by one factor.
    factor = plain.mean() / (plain * _weights(2, 1.5)).mean()
    expected = plain * _weights(2, 1.5) * factor
    assert torch.allclose(weighted, expected, atol=1e-6)
    assert torch.isclose(weighted.mean(), plain.mean(), atol=1e-6)
    assert not torch.equal(weighted, plain)


def _weights(position: int, weight: float) -> Any:
    import torch

    weights = torch.ones(1, 77, 1)
    weights[0, position] = weight
    return weights


def test_long_prompt_is_three_chunks_and_negative_is_padded(pipeline: Any) -> None:
    import torch

    chunked = chunk_prompts(pipeline.tokenizer, [LONG_PROMPT], {})[0]
    assert chunked.token_count == 200
    cond = encode_conditioning(pipeline, LONG_PROMPT, "blurry")
    assert cond.chunks == 3
    assert cond.prompt_embeds.shape == (1, 3 * 77, 32)
    assert cond.negative_prompt_embeds.shape == (1, 3 * 77, 32)
    empty, _ = pipeline.encode_prompt("", torch.device("cpu"), 1, False)
    blurry, _ = pipeline.encode_prompt("blurry", torch.device("cpu"), 1, False)
    # Several chunks go through the encoder as one batch: equal up to float rounding.
    negative = cond.negative_prompt_embeds
    assert torch.allclose(negative[:, :77], blurry, atol=1e-5, rtol=0)
    assert torch.allclose(negative[:, 77:154], empty, atol=1e-5, rtol=0)
    assert torch.equal(negative[:, 154:], negative[:, 77:154])  # the empty chunk, encoded once


def test_long_negative_pads_the_prompt(pipeline: Any) -> None:
    cond = encode_conditioning(pipeline, "a cat", LONG_PROMPT)
    assert cond.prompt_embeds.shape == cond.negative_prompt_embeds.shape == (1, 231, 32)


def test_break_starts_a_new_chunk(pipeline: Any) -> None:
    import torch

    cond = encode_conditioning(pipeline, "a cat BREAK a dog", "")
    cat, _ = pipeline.encode_prompt("a cat", torch.device("cpu"), 1, False)
    dog, _ = pipeline.encode_prompt("a dog", torch.device("cpu"), 1, False)
    assert torch.allclose(cond.prompt_embeds, torch.cat([cat, dog], dim=1), atol=1e-5, rtol=0)


def test_weighted_prompt_image_equals_plain_one(engine: Engine, tiny_model_dir: Path) -> None:
    plain = _pixels(engine, _request(tiny_model_dir, "a cat", "a dog"))
    weighted = _pixels(engine, _request(tiny_model_dir, "(a cat:1.0)", "(a dog:1.0)"))
    np.testing.assert_array_equal(plain, weighted)


def test_long_prompt_image_differs_from_its_first_75_tokens(
    engine: Engine, tiny_model_dir: Path
) -> None:
    from sd21_desktop.engine.loader import PipelineCache

    loaded = PipelineCache().get(str(tiny_model_dir), engine.options)
    tokenizer = loaded.pipeline.tokenizer
    ids = tokenizer(LONG_PROMPT, add_special_tokens=False).input_ids[:75]
    first_75 = tokenizer.decode(ids)
    long_image = _pixels(engine, _request(tiny_model_dir, LONG_PROMPT))
    short_image = _pixels(engine, _request(tiny_model_dir, first_75))
    assert np.abs(long_image.astype(int) - short_image.astype(int)).max() > 2


def test_emphasis_changes_the_image(engine: Engine, tiny_model_dir: Path) -> None:
    plain = _pixels(engine, _request(tiny_model_dir, "a red cat"))
    strong = _pixels(engine, _request(tiny_model_dir, "a (red:1.8) cat"))
    assert not np.array_equal(plain, strong)
