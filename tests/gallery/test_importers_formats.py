"""The importers on hand-made files: each tool's format, each container quirk, each edge case."""

from __future__ import annotations

import gzip
import io
import json
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.importers import (
    ImportedMetadata,
    parse_infotext,
    read_image_metadata,
    read_image_metadata_bytes,
)
from sd21_desktop.gallery.importers.comfyui import from_graph
from sd21_desktop.gallery.importers.comfyui_graph import workflow_to_api
from sd21_desktop.gallery.importers.exif import decode_user_comment
from sd21_desktop.gallery.importers.samplers import scheduler_for
from sd21_desktop.gallery.metadata import ImageRecord, encode_png

# --- building test files -------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with(chunks: list[tuple[bytes, bytes]], *, after_idat: bool = False) -> bytes:
    """A 1x1 PNG with extra raw chunks before IDAT (or after it)."""
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), "white").save(buffer, format="PNG")
    data = buffer.getvalue()
    marker = data.index(b"IEND" if after_idat else b"IDAT") - 4
    extra = b"".join(_chunk(kind, body) for kind, body in chunks)
    return data[:marker] + extra + data[marker:]


def text_chunks(**texts: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"tEXt", key.encode("latin-1") + b"\0" + value.encode("utf-8"))
        for key, value in texts.items()
    ]


def jpeg_with_user_comment(comment: bytes, byte_order: str = ">") -> bytes:
    exif = Image.Exif()
    exif.endian = byte_order  # a big- or little-endian TIFF header
    exif.get_ifd(0x8769)[0x9286] = comment
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def infotext_png(text: str) -> bytes:
    return png_with([(b"iTXt", b"parameters\0\0\0\0\0" + text.encode("utf-8"))])


A1111_TEXT = (
    "a cat\nNegative prompt: a dog\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 1234, Size: 512x768, Model: sd21"
)


# --- parse_infotext ------------------------------------------------------------------------


def test_infotext_basic() -> None:
    parsed = parse_infotext(A1111_TEXT)
    assert parsed["prompt"] == "a cat"
    assert parsed["negative_prompt"] == "a dog"
    assert parsed["Steps"] == "30"
    assert parsed["Sampler"] == "DPM++ 2M Karras"
    assert parsed["CFG scale"] == "6.5"
    assert parsed["Size"] == "512x768"


def test_infotext_multiline_prompts_and_crlf() -> None:
    text = (
        "line one,\r\nline two\r\nNegative prompt: bad,\r\nworse\r\nSteps: 5, Seed: 1, Size: 64x64"
    )
    parsed = parse_infotext(text)
    assert parsed["prompt"] == "line one,\nline two"
    assert parsed["negative_prompt"] == "bad,\nworse"


def test_infotext_without_negative_prompt() -> None:
    parsed = parse_infotext("just a prompt\nSteps: 5, Sampler: Euler, Seed: 7")
    assert parsed["prompt"] == "just a prompt"
    assert "negative_prompt" not in parsed
    assert parsed["Seed"] == "7"


def test_infotext_negative_prompt_only() -> None:
    parsed = parse_infotext("Negative prompt: ugly\nSteps: 5, Sampler: Euler, Seed: 7")
    assert parsed["prompt"] == ""
    assert parsed["negative_prompt"] == "ugly"


def test_infotext_without_settings_is_all_prompt() -> None:
    parsed = parse_infotext("style: anime, mood: dark, light: soft\nsecond line")
    assert parsed == {"prompt": "style: anime, mood: dark, light: soft\nsecond line"}


def test_infotext_quoted_and_json_values() -> None:
    text = (
        'p\nSteps: 4, Seed: 1, Lora hashes: "a: 12, b: 34", Sampler: Euler, '
        'Civitai resources: [{"type":"checkpoint","modelName":"X, Y"}], Civitai metadata: {}, '
        'Template: "say \\"hi\\""'
    )
    parsed = parse_infotext(text)
    assert parsed["Lora hashes"] == "a: 12, b: 34"
    assert parsed["Sampler"] == "Euler"
    assert json.loads(parsed["Civitai resources"]) == [{"type": "checkpoint", "modelName": "X, Y"}]
    assert parsed["Civitai metadata"] == "{}"
    assert parsed["Template"] == 'say "hi"'


def test_infotext_values_with_colons_and_trailing_lines() -> None:
    text = (
        "p\nSteps: 4, Seed: 1, Sampler: Euler, Created Date: 2026-01-04T01:27:21Z\n"
        "Template: {red|blue} car\nNegative Template: blurry"
    )
    parsed = parse_infotext(text)
    assert parsed["prompt"] == "p"
    assert parsed["Created Date"] == "2026-01-04T01:27:21Z"
    assert parsed["Template"] == "{red|blue} car"
    assert parsed["Negative Template"] == "blurry"


def test_infotext_prompt_with_braces_is_not_json() -> None:
    found = read_image_metadata_bytes(
        infotext_png("{{{masterpiece}}}, a girl\nSteps: 3, Seed: 2, Sampler: Euler")
    )
    assert found.source == "a1111"
    assert found.prompt == "{{{masterpiece}}}, a girl"


def test_infotext_empty_and_odd_inputs_do_not_raise() -> None:
    assert parse_infotext("") == {"prompt": ""}
    assert parse_infotext("\x00\x00")["prompt"] == ""
    assert parse_infotext(",,,:::,,,")["prompt"] == ",,,:::,,,"


@pytest.mark.parametrize(
    ("version", "extra_pairs", "source"),
    [
        ("v1.10.1", "", "a1111"),
        ("f2.0.1v1.10.1-previous-669", "", "forge"),
        ("neo", "", "forge"),
        ("classic", "", "forge"),
        ("56a8aea", ", App: SD.Next", "sdnext"),
        ("Fooocus v2.5.0", "", "fooocus"),
        ("", ", Civitai resources: []", "civitai"),
        ("sd21-desktop 0.1.0", "", "sd21-desktop"),
    ],
)
def test_infotext_flavour(version: str, extra_pairs: str, source: str) -> None:
    text = f"p\nSteps: 4, Seed: 1, Sampler: Euler{extra_pairs}"
    if version:
        text += f", Version: {version}"
    assert read_image_metadata_bytes(infotext_png(text)).source == source


def test_parameters_chunk_without_settings_keeps_the_prompt_with_a_note() -> None:
    found = read_image_metadata_bytes(png_with(text_chunks(parameters="only a prompt")))
    assert found.source == "a1111"
    assert found.prompt == "only a prompt"
    assert found.problem


# --- containers ----------------------------------------------------------------------------


def test_utf8_inside_text_chunk_is_not_mojibake() -> None:
    found = read_image_metadata_bytes(
        png_with(text_chunks(parameters="テスト\nSteps: 1, Seed: 2, Sampler: Euler"))
    )
    assert found.prompt == "テスト"


def test_latin1_text_chunk_still_reads() -> None:
    body = b"parameters\0caf\xe9\nSteps: 1, Seed: 2, Sampler: Euler"
    assert read_image_metadata_bytes(png_with([(b"tEXt", body)])).prompt == "café"


def test_compressed_text_after_idat() -> None:
    text = A1111_TEXT.encode()
    ztxt = (b"zTXt", b"parameters\0\0" + zlib.compress(text))
    found = read_image_metadata_bytes(png_with([ztxt], after_idat=True))
    assert found.source == "a1111"
    assert found.raw == {"png:zTXt:parameters": A1111_TEXT}


def test_compressed_itxt() -> None:
    body = b"parameters\0\x01\x00en\0\0" + zlib.compress(A1111_TEXT.encode())
    assert read_image_metadata_bytes(png_with([(b"iTXt", body)])).prompt == "a cat"


def test_zlib_bomb_is_refused() -> None:
    bomb = zlib.compress(b"a" * (40 * 1024 * 1024), 9)
    found = read_image_metadata_bytes(png_with([(b"zTXt", b"parameters\0\0" + bomb)]))
    assert found.source == "none"


def test_truncated_png_keeps_the_chunks_before_the_cut() -> None:
    data = png_with(text_chunks(parameters=A1111_TEXT))
    cut = data[: data.index(b"IDAT") + 2]
    found = read_image_metadata_bytes(cut)
    assert found.prompt == "a cat"


@pytest.mark.parametrize("byte_order", [">", "<"])
@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_user_comment_byte_order_is_detected_not_assumed(byte_order: str, encoding: str) -> None:
    comment = b"UNICODE\0" + A1111_TEXT.encode(encoding)
    found = read_image_metadata_bytes(jpeg_with_user_comment(comment, byte_order))
    assert found.source == "a1111"
    assert found.prompt == "a cat"
    assert found.seed == 1234


def test_user_comment_prefixes() -> None:
    assert decode_user_comment(b"ASCII\0\0\0hello\0") == "hello"
    assert decode_user_comment(b"\0" * 8 + "é".encode()) == "é"
    assert decode_user_comment(b"no prefix at all") == "no prefix at all"
    assert decode_user_comment(b"UNICODE\0\xfe\xff\x30\xc6") == "テ"
    assert decode_user_comment(b"UNICODE\0\x00") == ""


def test_webp_and_jpeg_comment() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", comment=A1111_TEXT.encode())
    found = read_image_metadata_bytes(buffer.getvalue())
    assert found.source == "a1111"
    assert found.raw["jpeg:comment"] == A1111_TEXT


def _hide(payload: bytes, signature: bytes, use_alpha: bool, size: tuple[int, int]) -> bytes:
    """A PNG whose pixels' lowest bits carry ``payload`` the way stealth-pnginfo writes it."""
    header = signature + struct.pack(">I", len(payload) * 8)
    bits = np.unpackbits(np.frombuffer(header + payload, np.uint8))
    width, height = size
    pixels = np.full((height, width, 4), 201, np.uint8)
    columns = pixels.transpose(1, 0, 2)  # a view in x-outer, y-inner order
    channels = slice(3, 4) if use_alpha else slice(0, 3)
    sequence = np.ascontiguousarray(columns[:, :, channels]).reshape(-1)
    assert bits.size <= sequence.size
    sequence[: bits.size] = (sequence[: bits.size] & 0xFE) | bits
    columns[:, :, channels] = sequence.reshape(columns[:, :, channels].shape)
    image = Image.fromarray(pixels, "RGBA")
    buffer = io.BytesIO()
    (image if use_alpha else image.convert("RGB")).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("signature", "compressed", "use_alpha"),
    [
        (b"stealth_pnginfo", False, True),
        (b"stealth_pngcomp", True, True),
        (b"stealth_rgbinfo", False, False),
        (b"stealth_rgbcomp", True, False),
    ],
)
def test_stealth_payloads(signature: bytes, compressed: bool, use_alpha: bool) -> None:
    payload = A1111_TEXT.encode()
    if compressed:
        payload = gzip.compress(payload)
    found = read_image_metadata_bytes(_hide(payload, signature, use_alpha, (48, 40)))
    assert found.source == "a1111"
    assert found.prompt == "a cat"
    assert found.raw == {f"stealth:{signature.decode()}": A1111_TEXT}


def test_stealth_novelai_envelope() -> None:
    envelope = {
        "Description": "a cat",
        "Software": "NovelAI",
        "Source": "NovelAI Diffusion V4.5 4BDE2A90",
        "Comment": json.dumps({"prompt": "a cat", "uc": "dog", "steps": 28, "seed": 5, "scale": 5}),
    }
    payload = gzip.compress(json.dumps(envelope).encode())
    found = read_image_metadata_bytes(_hide(payload, b"stealth_pngcomp", True, (64, 64)))
    assert (found.source, found.prompt, found.negative_prompt, found.steps) == (
        "novelai",
        "a cat",
        "dog",
        28,
    )


# --- the other tools -----------------------------------------------------------------------


def test_easy_diffusion_png_chunks() -> None:
    data = png_with(
        text_chunks(
            prompt="a lighthouse",
            negative_prompt="fog",
            seed="42",
            use_stable_diffusion_model="sd-v2-1_768-ema-pruned",
            sampler_name="euler_a",
            width="768",
            height="512",
            num_inference_steps="25",
            guidance_scale="7.5",
            clip_skip="False",
        )
    )
    found = read_image_metadata_bytes(data)
    assert found.source == "easydiffusion"
    assert (found.prompt, found.negative_prompt, found.seed) == ("a lighthouse", "fog", 42)
    assert (found.steps, found.cfg_scale, found.width, found.height) == (25, 7.5, 768, 512)
    assert found.model == "sd-v2-1_768-ema-pruned"
    request = found.to_request("m")
    assert request is not None
    assert request.scheduler == "euler_a"


def test_easy_diffusion_display_keys_and_exif_json() -> None:
    data = png_with(text_chunks(Prompt="a boat", Seed="3", Steps="20", **{"Guidance Scale": "8"}))
    found = read_image_metadata_bytes(data)
    assert (found.source, found.prompt, found.steps, found.cfg_scale) == (
        "easydiffusion",
        "a boat",
        20,
        8.0,
    )
    comment = json.dumps(
        {"prompt": "a tree", "num_inference_steps": 30, "use_stable_diffusion_model": "x"}
    )
    found = read_image_metadata_bytes(
        jpeg_with_user_comment(b"UNICODE\0" + comment.encode("utf-16-be"))
    )
    assert (found.source, found.prompt, found.steps) == ("easydiffusion", "a tree", 30)


def test_invokeai_dream_with_long_flags_and_no_negative() -> None:
    data = png_with(
        text_chunks(Dream='"a red fox" --steps 12 -S 99 -W 640 -H 448 -C 7.5 -A k_euler')
    )
    found = read_image_metadata_bytes(data)
    assert (found.source, found.prompt, found.negative_prompt) == ("invokeai", "a red fox", "")
    assert (found.steps, found.seed, found.width, found.height) == (12, 99, 640, 448)
    assert found.sampler == "k_euler"


def test_comfyui_workflow_only() -> None:
    workflow = {
        "nodes": [
            {"id": 1, "type": "CheckpointLoaderSimple", "widgets_values": ["sd21.safetensors"]},
            {"id": 2, "type": "CLIPTextEncode", "widgets_values": ["a castle"], "inputs": []},
            {"id": 3, "type": "CLIPTextEncode", "widgets_values": ["blurry"]},
            {"id": 4, "type": "EmptyLatentImage", "widgets_values": [640, 512, 1]},
            {
                "id": 5,
                "type": "KSampler",
                "widgets_values": [77, "fixed", 30, 6.5, "dpmpp_2m", "karras", 1.0],
                "inputs": [
                    {"name": "model", "link": 10},
                    {"name": "positive", "link": 11},
                    {"name": "negative", "link": 12},
                    {"name": "latent_image", "link": 13},
                ],
            },
        ],
        "links": [
            [10, 1, 0, 5, 0, "MODEL"],
            [11, 2, 0, 5, 1, "C"],
            [12, 3, 0, 5, 2, "C"],
            [13, 4, 0, 5, 3, "L"],
        ],
    }
    found = read_image_metadata_bytes(png_with(text_chunks(workflow=json.dumps(workflow))))
    assert (found.source, found.prompt, found.negative_prompt) == ("comfyui", "a castle", "blurry")
    assert (found.seed, found.steps, found.cfg_scale, found.sampler, found.schedule) == (
        77,
        30,
        6.5,
        "dpmpp_2m",
        "karras",
    )
    assert (found.width, found.height, found.model) == (640, 512, "sd21.safetensors")
    request = found.to_request("m")
    assert request is not None
    assert request.scheduler == "dpmpp_2m_karras"


def test_comfyui_controlnet_slots_and_custom_sampler() -> None:
    graph: dict[str, Any] = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "m.safetensors"}},
        "lora": {"class_type": "LoraLoader", "inputs": {"model": ["ckpt", 0], "lora_name": "l"}},
        "pos": {
            "class_type": "CLIPTextEncode",
            "inputs": {"text": ["txt", 0], "clip": ["ckpt", 1]},
        },
        "txt": {"class_type": "PrimitiveString", "inputs": {"value": "a forest"}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly", "clip": ["ckpt", 1]}},
        "cn": {
            "class_type": "ControlNetApplyAdvanced",
            "inputs": {"positive": ["pos", 0], "negative": ["neg", 0], "image": ["img", 0]},
        },
        "img": {"class_type": "LoadImage", "inputs": {"image": "x.png"}},
        "guider": {
            "class_type": "CFGGuider",
            "inputs": {
                "model": ["lora", 0],
                "positive": ["cn", 0],
                "negative": ["cn", 1],
                "cfg": 4.5,
            },
        },
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 123456789012}},
        "select": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "sched": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 18}},
        "latent": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 832, "height": 1216}},
        "sample": {
            "class_type": "SamplerCustomAdvanced",
            "inputs": {
                "noise": ["noise", 0],
                "guider": ["guider", 0],
                "sampler": ["select", 0],
                "sigmas": ["sched", 0],
                "latent_image": ["latent", 0],
            },
        },
    }
    found = from_graph(graph)
    assert found is not None
    assert (found.prompt, found.negative_prompt) == ("a forest", "ugly")
    assert (found.seed, found.steps, found.cfg_scale) == (123456789012, 18, 4.5)
    assert (found.sampler, found.schedule, found.width, found.height) == (
        "euler",
        "simple",
        832,
        1216,
    )
    assert found.model == "m.safetensors"


def test_comfyui_cycles_and_dangling_links_terminate() -> None:
    graph: dict[str, Any] = {
        "1": {
            "class_type": "KSampler",
            "inputs": {
                "positive": ["2", 0],
                "negative": ["9", 0],
                "latent_image": ["3", 0],
                "model": ["3", 0],
                "seed": ["1", 0],
            },
        },
        "2": {"class_type": "ConditioningCombine", "inputs": {"a": ["3", 0], "b": ["2", 0]}},
        "3": {"class_type": "ConditioningCombine", "inputs": {"a": ["2", 0], "b": ["4", 0]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": ["4", 0]}},
    }
    found = from_graph(graph)
    assert found is not None
    assert found.prompt is None
    assert found.seed is None


def test_huge_hostile_graph_stays_fast() -> None:
    graph: dict[str, Any] = {"t": {"class_type": "CLIPTextEncode", "inputs": {"text": "x"}}}
    for index in range(3000):
        previous = ["t", 0] if index == 0 else [f"c{index - 1}", 0]
        graph[f"c{index}"] = {"class_type": "ConditioningCombine", "inputs": {"a": previous}}
        graph[f"s{index}"] = {
            "class_type": "KSampler",
            "inputs": {"positive": [f"c{index}", 0], "latent_image": [f"s{index - 1}", 0]},
        }
    started = time.perf_counter()
    found = from_graph(graph)
    assert found is not None
    assert time.perf_counter() - started < 10


def test_workflow_to_api_ignores_garbage() -> None:
    assert workflow_to_api({"nodes": "x"}) is None
    assert workflow_to_api({"nodes": [1, None, {"type": 3}], "links": [None, [1]]}) is None


def test_novelai_png_without_comment_json_is_a_problem_not_an_error() -> None:
    found = read_image_metadata_bytes(
        png_with(text_chunks(Software="NovelAI", Comment="{broken", Description="x"))
    )
    assert found.source == "none"
    assert found.problem
    assert "NovelAI" in found.problem


def test_broken_comfyui_prompt_gives_a_problem() -> None:
    found = read_image_metadata_bytes(
        png_with(text_chunks(prompt='{"1": {"class_type": "SaveImage", "inputs": {}}}'))
    )
    assert found.source == "none"
    assert found.problem
    assert "ComfyUI" in found.problem


# --- our own images ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        GenerationRequest(prompt="a red fox", seed=12345),
        GenerationRequest(
            prompt='テスト, «quotes» "and" commas,\nnew line',
            negative_prompt="blurry: very",
            seed=2**32 - 1,
            steps=3,
            guidance_scale=0.0,
            scheduler="euler_a",
            width=512,
            height=640,
            batch_size=4,
            prediction_type="v_prediction",
        ),
    ],
)
def test_own_png_round_trip(request_: GenerationRequest, tmp_path: Path) -> None:
    seed = request_.seeds()[-1]
    record = ImageRecord(request_, seed, request_.batch_size - 1, {"device": "cpu"})
    path = tmp_path / "ours.png"
    path.write_bytes(encode_png(Image.new("RGB", (8, 8)), record))

    found = read_image_metadata(path)

    assert found.source == "sd21-desktop"
    assert found.found
    assert found.record == record
    assert found.to_request("ignored/model") == request_
    assert (found.prompt, found.negative_prompt, found.seed) == (
        request_.prompt,
        request_.negative_prompt,
        seed,
    )
    assert found.extra["runtime.device"] == "cpu"


def test_own_chunk_that_is_invalid_falls_back_to_the_infotext() -> None:
    chunks = text_chunks(**{"sd21-desktop": '{"request": {"prompt": 5}}', "parameters": A1111_TEXT})
    found = read_image_metadata_bytes(png_with(chunks))
    assert found.source == "a1111"
    assert found.prompt == "a cat"
    assert found.problem
    assert "sd21-desktop" in found.problem


# --- to_request ----------------------------------------------------------------------------


def test_to_request_clamps_and_keeps_64_bit_seeds() -> None:
    found = ImportedMetadata(
        source="comfyui",
        prompt="p",
        seed=2**40 + 5,
        steps=10_000,
        cfg_scale=99.0,
        sampler="dpmpp_2m_sde_gpu",
        width=1023,
        height=30,
    )
    request = found.to_request("model/x")
    assert request is not None
    assert request.seed == 2**40 + 5  # kept exactly: ComfyUI seeds are 64-bit like ours
    assert (request.steps, request.guidance_scale) == (500, 50.0)
    assert (request.width, request.height) == (1024, 64)
    assert request.scheduler == DEFAULT_SCHEDULER
    assert request.model == "model/x"


def test_to_request_wraps_only_seeds_beyond_64_bits() -> None:
    for seed, expected in ((2**64 - 1, 2**64 - 1), (2**64 + 5, 5), (123456789012, 123456789012)):
        request = ImportedMetadata(source="comfyui", prompt="p", seed=seed).to_request("m")
        assert request is not None
        assert request.seed == expected


def test_to_request_without_prompt_is_none() -> None:
    assert ImportedMetadata(source="comfyui", seed=1).to_request("m") is None
    assert ImportedMetadata(source="none").to_request("m") is None


@pytest.mark.parametrize(
    ("sampler", "schedule", "expected"),
    [
        ("DPM++ 2M Karras", None, "dpmpp_2m_karras"),
        ("DPM++ 2M", "Karras", "dpmpp_2m_karras"),
        ("DPM++ 2M", "Automatic", "dpmpp_2m"),
        ("Euler a", "Karras", "euler_a"),
        ("euler_ancestral", "karras", "euler_a"),
        ("Euler Ancestral Karras", None, "euler_a"),
        ("k_euler_ancestral", None, "euler_a"),
        ("k_lms", None, "lms"),
        ("dpmpp_2m_k", None, "dpmpp_2m_karras"),
        ("uni_pc_bh2", None, "unipc"),
        ("plms", None, "pndm"),
        ("DDIM", None, "ddim"),
        ("heun", None, "heun"),
        ("LCM", None, DEFAULT_SCHEDULER),
        ("", None, DEFAULT_SCHEDULER),
        (None, None, DEFAULT_SCHEDULER),
    ],
)
def test_sampler_mapping(sampler: str | None, schedule: str | None, expected: str) -> None:
    assert scheduler_for(sampler, schedule) == expected


# --- paths ---------------------------------------------------------------------------------


def test_missing_path_raises_a_user_facing_error(tmp_path: Path) -> None:
    with pytest.raises(UserFacingError, match="does not exist"):
        read_image_metadata(tmp_path / "nope.png")


def test_folder_raises_a_user_facing_error(tmp_path: Path) -> None:
    with pytest.raises(UserFacingError, match="folder"):
        read_image_metadata(tmp_path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not an image",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00*",
        b"RIFF\x00\x00\x00\x00WEBP",
    ],
)
def test_garbage_files_give_none_with_a_problem(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    found = read_image_metadata(path)
    assert found.source == "none"
    assert found.problem
