"""Fuzzing: no file content, however broken or hostile, makes the importers raise.

The public functions must return ``source="none"`` with a problem instead. Each importer is also
called directly, without the safety net in ``read_image_metadata_bytes``, so a bug in one of them
fails here instead of being hidden.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.importers import (
    IMPORTERS,
    SOURCES,
    ImportedMetadata,
    parse_infotext,
    read_image_metadata_bytes,
)
from sd21_desktop.gallery.importers.comfyui import from_graph
from sd21_desktop.gallery.importers.comfyui_graph import workflow_to_api
from sd21_desktop.gallery.importers.containers import Sources
from sd21_desktop.gallery.importers.exif import decode_user_comment
from tests.conftest import FIXTURE_IMAGES

# SD21_FUZZ_EXAMPLES=2000 for a longer hunt; the default keeps the suite quick.
FUZZ = settings(
    max_examples=int(os.environ.get("SD21_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PNG_KEYS = [
    "parameters",
    "prompt",
    "workflow",
    "Comment",
    "Description",
    "Software",
    "Source",
    "Dream",
    "sd-metadata",
    "invokeai_metadata",
    "generation_data",
    "parameters-json",
    "smproj",
    "fooocus_scheme",
    "sd21-desktop",
    "negative_prompt",
    "num_inference_steps",
    "use_stable_diffusion_model",
]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "inputs",
                    "class_type",
                    "text",
                    "seed",
                    "steps",
                    "cfg",
                    "uc",
                    "prompt",
                    "Comment",
                    "nodes",
                    "links",
                    "image",
                    "positive",
                    "negative",
                    "latent_image",
                    "model",
                    "width",
                    "height",
                    "sui_image_params",
                    "caption",
                    "base_caption",
                ]
            )
            | st.text(max_size=10),
            children,
            max_size=6,
        )
    ),
    max_leaves=30,
)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(texts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    data = buffer.getvalue()
    at = data.index(b"IDAT") - 4
    body = b"".join(
        _chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8", "replace"))
        for key, value in texts.items()
    )
    return data[:at] + body + data[at:]


def _check(found: ImportedMetadata) -> None:
    assert isinstance(found, ImportedMetadata)
    assert found.source in SOURCES
    if found.source == "none":
        assert found.problem
    for value in (*found.raw.values(), *found.extra.values()):
        assert isinstance(value, str)
    request = found.to_request("some/model")
    assert request is None or isinstance(request, GenerationRequest)


def _check_importers(sources: Sources) -> None:
    for _, importer in IMPORTERS:
        result = importer(sources)
        assert result is None or isinstance(result, (str, ImportedMetadata))
        if isinstance(result, ImportedMetadata):
            _check(result)


def _fixture_bytes() -> list[bytes]:
    files = sorted(
        p
        for p in FIXTURE_IMAGES.rglob("*")
        if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"}
    )
    # The largest files make each example slow without adding new structure.
    return [p.read_bytes() for p in files if p.stat().st_size < 400_000]


FIXTURES = _fixture_bytes()


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _check(read_image_metadata_bytes(data))


@FUZZ
@given(
    st.sampled_from(
        [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe1", b"RIFF\x10\x00\x00\x00WEBPVP8X", b"II*\x00"]
    ),
    st.binary(max_size=2048),
)
def test_random_bytes_behind_real_signatures(signature: bytes, data: bytes) -> None:
    _check(read_image_metadata_bytes(signature + data))


@FUZZ
@given(st.data())
def test_truncated_and_corrupted_fixtures(data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(FIXTURES))
    cut = data.draw(st.integers(min_value=0, max_value=len(original)))
    damaged = bytearray(original[:cut])
    for _ in range(data.draw(st.integers(min_value=0, max_value=3))):
        if damaged:
            position = data.draw(st.integers(min_value=0, max_value=len(damaged) - 1))
            damaged[position] = data.draw(st.integers(min_value=0, max_value=255))
    _check(read_image_metadata_bytes(bytes(damaged)))


@FUZZ
@given(st.dictionaries(st.sampled_from(PNG_KEYS), st.text(max_size=300), min_size=1, max_size=4))
def test_random_text_in_png_chunks(texts: dict[str, str]) -> None:
    _check(read_image_metadata_bytes(_png(texts)))
    _check_importers(Sources(format="PNG", texts=texts))


@FUZZ
@given(st.sampled_from(PNG_KEYS), JSON)
def test_random_json_in_png_chunks(key: str, value: Any) -> None:
    texts = {key: json.dumps(value)}
    _check(read_image_metadata_bytes(_png(texts)))
    _check_importers(Sources(format="PNG", texts=texts))
    _check_importers(
        Sources(format="PNG", texts={**texts, "Software": "NovelAI", "fooocus_scheme": "x"})
    )


@FUZZ
@given(JSON, st.sampled_from(["UserComment", "Make", "Model", "ImageDescription"]))
def test_random_json_in_exif_tags(value: Any, tag: str) -> None:
    text = json.dumps(value)
    for variant in (text, f"prompt:{text}", f"Workflow: {text}"):
        _check_importers(Sources(format="JPEG", exif={tag: variant}))
    envelope = json.dumps({"Comment": text, "Software": "NovelAI", "Description": text})
    _check_importers(Sources(format="WEBP", exif={"UserComment": envelope}, stealth=envelope))
    _check_importers(
        Sources(format="WEBP", exif={"UserComment": json.dumps({"sui_image_params": value})})
    )


NODE_TYPES = [
    "KSampler",
    "KSamplerAdvanced",
    "SamplerCustomAdvanced",
    "CLIPTextEncode",
    "ConditioningCombine",
    "ControlNetApplyAdvanced",
    "EmptyLatentImage",
    "CheckpointLoaderSimple",
    "CFGGuider",
    "RandomNoise",
    "Reroute",
]
INPUT_NAMES = [
    "positive",
    "negative",
    "latent_image",
    "model",
    "seed",
    "noise_seed",
    "steps",
    "cfg",
    "text",
    "width",
    "height",
    "ckpt_name",
    "guider",
    "noise",
    "sampler",
    "sigmas",
    "conditioning_1",
    "",
]


@st.composite
def comfy_graphs(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.text(max_size=3), min_size=1, max_size=8, unique=True))
    link = st.tuples(st.sampled_from([*ids, "missing"]), st.integers(0, 2)).map(list)
    value = link | JSON
    return {
        node_id: {
            "class_type": draw(st.sampled_from(NODE_TYPES)),
            "inputs": draw(st.dictionaries(st.sampled_from(INPUT_NAMES), value, max_size=6)),
        }
        for node_id in ids
    }


@FUZZ
@given(comfy_graphs())
def test_random_comfyui_graphs_terminate(graph: dict[str, Any]) -> None:
    found = from_graph(graph)
    if found is not None:
        _check(found)
    _check(read_image_metadata_bytes(_png({"prompt": json.dumps(graph)})))


@st.composite
def comfy_workflows(draw: st.DrawFn) -> dict[str, Any]:
    """Editor graphs: real node types and link tables, random values everywhere else."""
    ids = draw(st.lists(st.integers(0, 9), min_size=1, max_size=6, unique=True))
    node_id = st.sampled_from(ids) | JSON
    entry = st.fixed_dictionaries(
        {"name": st.sampled_from(INPUT_NAMES), "link": st.integers(0, 9) | JSON},
        optional={"widget": JSON},
    )
    nodes = [
        {
            "id": identifier,
            "type": draw(st.sampled_from(NODE_TYPES)),
            "mode": draw(st.sampled_from([0, 2, 4, None])),
            "widgets_values": draw(st.lists(JSON, max_size=10) | JSON),
            "inputs": draw(st.lists(entry, max_size=5) | JSON),
        }
        for identifier in ids
    ]
    link = st.tuples(st.integers(0, 9), node_id, st.integers(0, 2) | JSON, node_id).map(list)
    return {"nodes": nodes, "links": draw(st.lists(link | JSON, max_size=8))}


@FUZZ
@given(comfy_workflows() | st.dictionaries(st.sampled_from(["nodes", "links"]), JSON))
def test_random_workflows(workflow: dict[str, Any]) -> None:
    graph = workflow_to_api(workflow)
    if graph is not None:
        from_graph(graph)
    _check(read_image_metadata_bytes(_png({"workflow": json.dumps(workflow)})))


@FUZZ
@given(st.text(max_size=500))
def test_parse_infotext_never_raises(text: str) -> None:
    parsed = parse_infotext(text)
    assert isinstance(parsed["prompt"], str)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())


@FUZZ
@given(
    st.lists(
        st.sampled_from(
            ["\n", "Negative prompt:", "Steps: ", "Seed: ", ", ", '"', "[", "{", ": ", "x"]
        ),
        max_size=40,
    ).map("".join)
)
def test_parse_infotext_on_infotext_shaped_noise(text: str) -> None:
    parse_infotext(text)
    _check(read_image_metadata_bytes(_png({"parameters": text})))


@FUZZ
@given(st.binary(max_size=300))
def test_user_comment_bytes(data: bytes) -> None:
    assert isinstance(decode_user_comment(data), str)
    assert isinstance(decode_user_comment(b"UNICODE\0" + data), str)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([b"UNICODE\0", b"ASCII\0\0\0", b""]))
def test_random_user_comment_in_a_jpeg(data: bytes, prefix: bytes) -> None:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = prefix + data
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG", exif=exif.tobytes())
    _check(read_image_metadata_bytes(buffer.getvalue()))


@FUZZ
@given(
    prompt=st.none() | st.text(max_size=20),
    seed=st.none() | st.integers(min_value=0, max_value=2**80),
    steps=st.none() | st.integers(min_value=-5, max_value=10**6),
    cfg=st.none() | st.floats(min_value=-100, max_value=1e6, allow_nan=False),
    sampler=st.none() | st.text(max_size=20),
    schedule=st.none() | st.text(max_size=10),
    width=st.none() | st.integers(min_value=1, max_value=10**6),
    height=st.none() | st.integers(min_value=1, max_value=10**6),
)
def test_to_request_is_always_valid(
    prompt: str | None,
    seed: int | None,
    steps: int | None,
    cfg: float | None,
    sampler: str | None,
    schedule: str | None,
    width: int | None,
    height: int | None,
) -> None:
    found = ImportedMetadata(
        source="a1111",
        prompt=prompt,
        seed=seed,
        steps=steps,
        cfg_scale=cfg,
        sampler=sampler,
        schedule=schedule,
        width=width,
        height=height,
    )
    request = found.to_request("m")
    assert (request is None) == (prompt is None)


def test_fuzz_helpers_build_readable_pngs(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(_png({"parameters": "a\nSteps: 1, Seed: 2, Sampler: Euler"}))
    with Image.open(path) as image:
        assert image.info["parameters"].startswith("a")
