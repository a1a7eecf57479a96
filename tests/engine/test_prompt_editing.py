"""The editor's helpers: token counts as the engine chunks, highlighting spans, Ctrl+Up/Down."""

from __future__ import annotations

import pytest

from sd21_desktop.engine.prompt_editing import adjust_weight, completion_prefix, syntax_spans
from sd21_desktop.engine.tokens import count_prompt


@pytest.mark.parametrize(
    ("text", "count", "target"),
    [
        ("a cat", 2, 75),
        ("", 0, 75),
        ("(a cat:1.4) <lora:ink:0.5>", 2, 75),
        ("a cat BREAK a dog", 77, 150),
        (" ".join(["fox"] * 80), 80, 150),
        (" ".join(["fox"] * 200), 200, 225),
    ],
)
def test_count_prompt(text: str, count: int, target: int) -> None:
    counted = count_prompt(text)
    assert (counted.count, counted.target) == (count, target)


def test_count_prompt_counts_embedding_vectors() -> None:
    assert count_prompt("a mystyle cat", {"mystyle": 8}).count == 10
    assert count_prompt("a mystyle cat").count > 2  # without the embedding: its word pieces


def test_count_prompt_equals_the_engine_chunking() -> None:
    from transformers import CLIPTokenizer

    from sd21_desktop.engine.prompt_encoding import chunk_prompts
    from sd21_desktop.paths import resources_dir

    tokenizer = CLIPTokenizer.from_pretrained(str(resources_dir() / "clip_tokenizer"))
    text = ", ".join(f"(red fox {i}:1.2)" for i in range(40)) + " BREAK sky"
    engine = chunk_prompts(tokenizer, [text], {})[0]
    counted = count_prompt(text)
    assert (counted.count, counted.chunks) == (engine.token_count, len(engine.chunks))


def test_syntax_spans() -> None:
    text = "a (red:1.3) cat BREAK <lora:ink:0.5> mystyle [dim]"
    kinds = [(text[s.start : s.end], s.kind) for s in syntax_spans(text, ["mystyle"])]
    assert ("(", "bracket") in kinds
    assert ("1.3", "weight") in kinds
    assert ("BREAK", "break") in kinds
    assert ("<lora:ink:0.5>", "lora") in kinds
    assert ("mystyle", "embedding") in kinds
    assert ("[", "bracket") in kinds
    assert ("]", "bracket") in kinds
    assert not any(kind == "weight" and piece == "0.5" for piece, kind in kinds)


@pytest.mark.parametrize(
    ("text", "selection", "delta", "expected", "new_selection"),
    [
        ("a red cat", (2, 5), 0.1, "a (red:1.1) cat", (3, 6)),
        ("a red cat", (2, 5), -0.1, "a (red:0.9) cat", (3, 6)),
        ("a (red:1.1) cat", (3, 6), 0.1, "a (red:1.2) cat", (3, 6)),
        ("a (red:1.1) cat", (3, 6), -0.1, "a red cat", (2, 5)),
        ("a red cat", (3, 3), 0.1, "a (red:1.1) cat", (3, 6)),  # the word under the cursor
        ("a (red fox:1.5) cat", (5, 5), 0.1, "a (red fox:1.6) cat", (3, 10)),  # the group
        ("a <lora:ink:0.5> cat", (9, 9), 0.1, "a <lora:ink:0.6> cat", (2, 16)),
        ("a <lora:ink> cat", (5, 5), -0.1, "a <lora:ink:0.9> cat", (2, 16)),
        ("a red  cat", (2, 6), 0.1, "a (red:1.1)  cat", (3, 6)),  # spaces stay outside
    ],
)
def test_adjust_weight_as_a1111(
    text: str,
    selection: tuple[int, int],
    delta: float,
    expected: str,
    new_selection: tuple[int, int],
) -> None:
    new_text, start, end = adjust_weight(text, *selection, delta)
    assert new_text == expected
    assert (start, end) == new_selection


def test_completion_prefix() -> None:
    context = completion_prefix("a cat <lora:in", 14)
    assert context is not None
    assert (context.kind, context.prefix, context.start) == ("lora", "in", 12)
    word = completion_prefix("a mys", 5)
    assert word is not None
    assert (word.kind, word.prefix) == ("word", "mys")
    assert completion_prefix("a m", 3) is None
