"""AUTOMATIC1111's prompt syntax: emphasis, BREAK, 75-token chunks with comma breaking, tags.

The expected values of the first rows are the doctest examples of AUTOMATIC1111's
``parse_prompt_attention``; the others follow its algorithm by hand.
"""

from __future__ import annotations

import pytest

from sd21_desktop.engine.prompt_chunks import (
    CHUNK_TOKENS,
    ChunkedPrompt,
    EmbeddingVocabulary,
    SpecialTokens,
    chunk_prompt,
)
from sd21_desktop.engine.prompt_syntax import extract_extra_networks, parse_prompt_attention
from sd21_desktop.errors import InvalidRequestError

R, S = 1.1, 1 / 1.1
PARSE_TABLE: list[tuple[str, list[tuple[str, float]]]] = [
    ("normal text", [("normal text", 1.0)]),
    ("an (important) word", [("an ", 1.0), ("important", R), (" word", 1.0)]),
    ("(unbalanced", [("unbalanced", R)]),
    ("\\(literal\\]", [("(literal]", 1.0)]),
    ("(unnecessary)(parens)", [("unnecessaryparens", R)]),
    (
        "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
        [
            ("a ", 1.0),
            ("house", 1.3 * R * R),
            (" ", R),
            ("on", R * S),
            (" a ", R),
            ("hill", 0.55),
            (", sun, ", R),
            ("sky", R * R * R * R),
            (".", R),
        ],
    ),
    ("((double))", [("double", R * R)]),
    ("[less]", [("less", S)]),
    ("[[much less]]", [("much less", S * S)]),
    ("(a cat:1.0)", [("a cat", 1.0)]),
    ("(a cat:1.5)", [("a cat", 1.5)]),
    ("(a cat: 1.5 )", [("a cat", 1.5)]),
    ("(a cat:-0.5)", [("a cat", -0.5)]),
    ("(outer (inner:2) outer)", [("outer ", R), ("inner", 2 * R), (" outer", R)]),
    ("[a (b) c]", [("a ", S), ("b", R * S), (" c", S)]),
    ("unbalanced)", [("unbalanced)", 1.0)]),
    ("closing] only", [("closing] only", 1.0)]),
    ("[open square", [("open square", S)]),
    ("(a:2", [("a:2", R)]),
    ("time: 12:30", [("time: 12:30", 1.0)]),
    ("(a:1.2.3)", [("a:1.2.3", R)]),
    ("\\\\ backslash", [("\\ backslash", 1.0)]),
    ("a \\ b", [("a  b", 1.0)]),  # a lone backslash vanishes, as in A1111
    ("(\\(x\\))", [("(x)", R)]),
    ("a BREAK b", [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]),
    ("a BREAKb", [("a BREAKb", 1.0)]),
    ("a break b", [("a break b", 1.0)]),
    ("(BREAK)", [("", R), ("BREAK", -R), ("", R)]),
    ("", [("", 1.0)]),
    ("()", [("", 1.0)]),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_TABLE)
def test_parse_prompt_attention(text: str, expected: list[tuple[str, float]]) -> None:
    parsed = parse_prompt_attention(text)
    assert [piece for piece, _ in parsed] == [piece for piece, _ in expected]
    assert [weight for _, weight in parsed] == pytest.approx([w for _, w in expected])


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    from transformers import CLIPTokenizer

    from sd21_desktop.paths import resources_dir

    return CLIPTokenizer.from_pretrained(str(resources_dir() / "clip_tokenizer"))


def _chunks(tokenizer, text: str, vocabulary=None) -> ChunkedPrompt:  # type: ignore[no-untyped-def]
    from sd21_desktop.engine.prompt_encoding import special_tokens, tokenizer_function

    return chunk_prompt(
        text, tokenizer_function(tokenizer), special_tokens(tokenizer), vocabulary
    )


def _runs(tokenizer, chunked: ChunkedPrompt) -> list[list[tuple[str, float]]]:  # type: ignore[no-untyped-def]
    """Each chunk as (decoded text, weight) runs of its prompt tokens."""
    special = {tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}
    result = []
    for chunk in chunked.chunks:
        runs: list[tuple[list[int], float]] = []
        for token, weight in zip(chunk.tokens, chunk.weights, strict=True):
            if token in special:
                continue
            if runs and runs[-1][1] == weight:
                runs[-1][0].append(token)
            else:
                runs.append(([token], weight))
        result.append([(tokenizer.decode(ids).strip(), round(w, 4)) for ids, w in runs])
    return result


CHUNK_TABLE: list[tuple[str, list[list[tuple[str, float]]]]] = [
    ("a cat", [[("a cat", 1.0)]]),
    ("a (cat:1.3) sat", [[("a", 1.0), ("cat", 1.3), ("sat", 1.0)]]),
    ("a cat BREAK a dog", [[("a cat", 1.0)], [("a dog", 1.0)]]),
    ("BREAK a dog", [[], [("a dog", 1.0)]]),
    ("a cat BREAK", [[("a cat", 1.0)]]),
    ("(a BREAK b)", [[("a", 1.1)], [("b", 1.1)]]),
    ("", [[]]),
]


@pytest.mark.parametrize(("text", "expected"), CHUNK_TABLE)
def test_chunks(tokenizer, text: str, expected: list[list[tuple[str, float]]]) -> None:  # type: ignore[no-untyped-def]
    assert _runs(tokenizer, _chunks(tokenizer, text)) == expected


def test_every_chunk_is_laid_out_like_the_sd2_tokenizer(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = "a red fox jumping over the lazy dog"
    chunked = _chunks(tokenizer, text)
    expected = tokenizer(text, padding="max_length", max_length=77, truncation=True).input_ids
    assert chunked.chunks[0].tokens == expected
    assert chunked.chunks[0].tokens[-1] == tokenizer.pad_token_id == 0  # SD2 pads with "!"
    assert chunked.token_count == len(expected) - expected.count(0) - 2
    assert chunked.target == 75


def test_long_prompt_splits_into_75_token_chunks(tokenizer) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(["fox"] * 200)  # one token each, no comma
    chunked = _chunks(tokenizer, words)
    assert [len(c.tokens) for c in chunked.chunks] == [77, 77, 77]
    assert [c.tokens[1:-1].count(tokenizer.convert_tokens_to_ids("fox</w>")) for c in
            chunked.chunks] == [75, 75, 50]
    assert chunked.token_count == 200
    assert chunked.target == 225


def test_comma_within_the_last_20_tokens_moves_the_phrase_on(tokenizer) -> None:  # type: ignore[no-untyped-def]
    fox = tokenizer.convert_tokens_to_ids("fox</w>")
    text = " ".join(["fox"] * 60) + ", " + " ".join(["cat"] * 30)
    first, second = _chunks(tokenizer, text).chunks
    # 60 foxes and the comma stay; all 30 cats (which would straddle token 75) move on.
    assert first.tokens[1:62].count(fox) == 60
    assert first.tokens[62] == tokenizer.eos_token_id
    assert second.tokens[1:31] == [tokenizer.convert_tokens_to_ids("cat</w>")] * 30


def test_comma_further_back_than_20_tokens_does_not_move(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(["fox"] * 40) + ", " + " ".join(["cat"] * 50)
    first, second = _chunks(tokenizer, text).chunks
    assert first.tokens[1:76].count(tokenizer.convert_tokens_to_ids("cat</w>")) == 34
    assert second.tokens[1:17] == [tokenizer.convert_tokens_to_ids("cat</w>")] * 16


def test_token_count_includes_break_padding(tokenizer) -> None:  # type: ignore[no-untyped-def]
    chunked = _chunks(tokenizer, "a cat BREAK a dog")
    assert chunked.token_count == 75 + 2
    assert chunked.target == 150


def test_embedding_takes_its_vectors_and_never_straddles_chunks(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from sd21_desktop.engine.prompt_encoding import tokenizer_function

    vocabulary = EmbeddingVocabulary({"mystyle": 5}, tokenizer_function(tokenizer))
    short = _chunks(tokenizer, "a photo in mystyle, bright", vocabulary)
    chunk = short.chunks[0]
    assert chunk.embeddings == [(4, "mystyle")]
    assert short.token_count == 3 + 5 + 2
    long = _chunks(tokenizer, " ".join(["fox"] * 73) + " mystyle", vocabulary)
    assert [c.embeddings for c in long.chunks] == [[], [(1, "mystyle")]]
    assert long.embeddings_used == ["mystyle"]


def test_emphasis_weights_follow_tokens_into_chunks(tokenizer) -> None:  # type: ignore[no-untyped-def]
    chunked = _chunks(tokenizer, "(" + " ".join(["fox"] * 80) + ":1.4)")
    assert set(chunked.chunks[0].weights[1:76]) == {1.4}
    assert chunked.chunks[1].weights[1:6] == [1.4] * 5
    assert chunked.chunks[1].weights[6:] == [1.0] * (CHUNK_TOKENS + 2 - 6)


def test_special_tokens_of_the_bundled_tokenizer(tokenizer) -> None:  # type: ignore[no-untyped-def]
    from sd21_desktop.engine.prompt_encoding import special_tokens

    assert special_tokens(tokenizer) == SpecialTokens(49406, 49407, 0, 267)


@pytest.mark.parametrize(
    ("prompt", "text", "loras"),
    [
        ("a cat <lora:ink:0.6>", "a cat ", [("ink", 0.6, 0.6)]),
        ("<lora:ink>a cat", "a cat", [("ink", 1.0, 1.0)]),
        ("<lora:a:0.5:1.5> x <lyco:b:2>", " x ", [("a", 0.5, 1.5), ("b", 2.0, 2.0)]),
        ("<lora:a:unet=0.3:te=0.8>", "", [("a", 0.8, 0.3)]),
        ("no tags (x:1.2)", "no tags (x:1.2)", []),
    ],
)
def test_lora_tags_are_taken_out(
    prompt: str, text: str, loras: list[tuple[str, float, float]]
) -> None:
    extracted = extract_extra_networks(prompt)
    assert extracted.text == text
    assert [(t.name, t.text_encoder_weight, t.unet_weight) for t in extracted.loras] == loras


def test_other_extra_network_tags_are_removed_and_reported() -> None:
    extracted = extract_extra_networks("a <hypernet:h:1> b")
    assert extracted.text == "a  b"
    assert extracted.ignored == ("<hypernet:h:1>",)


def test_lora_weight_that_is_not_a_number_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequestError, match="'x' in <lora:a:x> is not a number"):
        extract_extra_networks("<lora:a:x>")
