"""``Lora hashes`` and ``TI hashes`` in infotext, written and read as AUTOMATIC1111 does."""

from __future__ import annotations

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.importers.a1111 import from_infotext, parse_infotext
from sd21_desktop.gallery.infotext import format_hash_list, format_infotext, parse_hash_list

SHA_A = "0123456789abcdef" * 4
SHA_B = "fedcba9876543210" * 4


def test_infotext_writes_a1111_hash_fields() -> None:
    request = GenerationRequest(
        prompt="a cat <lora:ink:0.8> mystyle",
        seed=1,
        loras=(("ink", SHA_A), ("we:ird,name", SHA_B)),
        embeddings=(("mystyle", SHA_B),),
    )
    text = format_infotext(request, 1)
    assert 'Lora hashes: "ink: 0123456789ab, weirdname: fedcba987654"' in text
    assert 'TI hashes: "mystyle: fedcba987654"' in text
    parsed = parse_infotext(text)
    assert parsed["Lora hashes"] == "ink: 0123456789ab, weirdname: fedcba987654"


def test_no_hash_fields_without_networks() -> None:
    text = format_infotext(GenerationRequest(prompt="a cat", seed=1), 1)
    assert "hashes" not in text


def test_hash_list_round_trip_and_malformed_entries() -> None:
    assert parse_hash_list(format_hash_list((("a", SHA_A),))) == (("a", SHA_A[:12]),)
    assert parse_hash_list("a: 12, b: 0123456789AB, c") == (("b", "0123456789ab"),)
    assert parse_hash_list(None) == ()


def test_imported_a1111_image_rerun_names_its_files() -> None:
    text = (
        "a cat <lora:ink:0.7>, mystyle\nNegative prompt: blurry\n"
        'Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 5, Size: 512x512, '
        'Lora hashes: "ink: 0123456789ab", TI hashes: "mystyle: fedcba987654", Version: v1.10.1'
    )
    request = from_infotext(text).to_request("some/model")
    assert request is not None
    assert request.loras == (("ink", "0123456789ab"),)
    assert request.embeddings == (("mystyle", "fedcba987654"),)
    assert request.prompt.startswith("a cat <lora:ink:0.7>")
