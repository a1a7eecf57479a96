"""Textual-inversion embeddings and LoRAs: parity with diffusers, unloading, re-runs by hash,
and clear refusals of files that do not fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sd21_desktop.engine.networks import NetworkFolders, file_sha256
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER, build_scheduler
from sd21_desktop.engine.synthetic_networks import (
    lora_layers,
    random_vectors,
    save_embedding,
    save_lora,
)
from sd21_desktop.errors import UserFacingError

WIDTH = 32  # the tiny text encoder's width


@pytest.fixture
def folders(tmp_path: Path) -> NetworkFolders:
    return NetworkFolders(tmp_path / "embeddings", tmp_path / "lora")


@pytest.fixture
def engine(folders: NetworkFolders) -> Engine:
    return Engine(networks=folders)


@pytest.fixture(scope="module")
def layers() -> tuple[dict[str, Any], dict[str, Any]]:
    from sd21_desktop.engine.synthetic import build_components

    parts = build_components()
    first = lora_layers(parts["unet"], parts["text_encoder"], rank=4, seed=1)
    second = lora_layers(parts["unet"], parts["text_encoder"], rank=4, seed=2)
    return first, second


def _request(model: Path, prompt: str, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = dict(
        prompt=prompt, negative_prompt="blurry", model=str(model), seed=3, steps=3,
        guidance_scale=7.0, width=64, height=64,
    )
    values.update(changes)
    return GenerationRequest(**values)


def _reference(model: Path, prompt: str, setup: Any) -> np.ndarray:
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(model))
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = build_scheduler(DEFAULT_SCHEDULER, pipe.scheduler.config)
    setup(pipe)
    out = pipe(
        prompt=prompt, negative_prompt="blurry", num_inference_steps=3, guidance_scale=7.0,
        width=64, height=64, generator=torch.Generator("cpu").manual_seed(3),
    )
    return np.array(out.images[0])


def _pixels(engine: Engine, request: GenerationRequest) -> np.ndarray:
    return np.array(engine.generate(request).images[0])


@pytest.mark.parametrize(
    ("file_format", "relative"),
    [
        ("a1111_pt", "mystyle.pt"),
        ("a1111_safetensors", "mystyle.safetensors"),
        ("diffusers", "mystyle/learned_embeds.safetensors"),
        ("diffusers", "mystyle/learned_embeds.bin"),
    ],
)
def test_embedding_equals_diffusers_load_textual_inversion(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path, file_format: Any, relative: str
) -> None:
    vectors = random_vectors(3, WIDTH, seed=5)
    path = save_embedding(folders.embeddings / relative, vectors, file_format)
    prompt = "a photo of mystyle , in a field"
    result = engine.generate(_request(tiny_model_dir, prompt))

    def load(pipe: Any) -> None:
        pipe.load_textual_inversion({"mystyle": vectors}, token="mystyle")

    expected = _reference(tiny_model_dir, prompt, load)
    np.testing.assert_array_equal(np.array(result.images[0]), expected)
    assert result.request.embeddings == (("mystyle", file_sha256(path)),)
    without = _pixels(engine, _request(tiny_model_dir, "a photo of a , in a field"))
    assert not np.array_equal(without, expected)


def test_lora_equals_diffusers_and_unloading_restores_the_base(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path, layers: Any
) -> None:
    path = save_lora(folders.loras / "ink.safetensors", layers[0], "diffusers")
    base_before = _pixels(engine, _request(tiny_model_dir, "a cat"))
    result = engine.generate(_request(tiny_model_dir, "a cat <lora:ink:0.8>"))

    def load(pipe: Any) -> None:
        pipe.load_lora_weights(str(path), adapter_name="ink")
        pipe.set_adapters(["ink"], [0.8])

    expected = _reference(tiny_model_dir, "a cat ", load)
    ours = np.array(result.images[0]).astype(int)
    assert np.abs(ours - expected.astype(int)).max() <= 2
    assert np.abs(ours - base_before.astype(int)).max() > 2  # the LoRA does something
    assert result.request.loras == (("ink", file_sha256(path)),)
    base_after = _pixels(engine, _request(tiny_model_dir, "a cat"))
    np.testing.assert_array_equal(base_after, base_before)  # nothing left fused or loaded
    assert not engine.cache.loaded.pipeline.get_list_adapters()  # type: ignore[union-attr]


def test_kohya_lora_equals_the_diffusers_file(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path, layers: Any
) -> None:
    save_lora(folders.loras / "ink.safetensors", layers[0], "diffusers")
    save_lora(folders.loras / "ink_kohya.safetensors", layers[0], "kohya")
    one = _pixels(engine, _request(tiny_model_dir, "a cat <lora:ink:0.7>"))
    other = _pixels(engine, _request(tiny_model_dir, "a cat <lora:ink_kohya:0.7>"))
    assert np.abs(one.astype(int) - other.astype(int)).max() <= 2


def test_two_loras_combine_like_diffusers(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path, layers: Any
) -> None:
    first = save_lora(folders.loras / "a.safetensors", layers[0], "kohya")
    second = save_lora(folders.loras / "b.safetensors", layers[1], "diffusers")
    ours = _pixels(engine, _request(tiny_model_dir, "a cat <lora:a:0.6> <lora:b:0.9:0.4>"))

    def load(pipe: Any) -> None:
        pipe.load_lora_weights(str(first), adapter_name="a")
        pipe.load_lora_weights(str(second), adapter_name="b")
        pipe.set_adapters(
            ["a", "b"], [0.6, {"text_encoder": 0.9, "unet": 0.4}]
        )

    expected = _reference(tiny_model_dir, "a cat  ", load)
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 2
    only_a = _pixels(engine, _request(tiny_model_dir, "a cat <lora:a:0.6>"))
    assert not np.array_equal(only_a, ours)


def test_rerun_finds_renamed_files_by_hash(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path, layers: Any
) -> None:
    save_lora(folders.loras / "ink.safetensors", layers[0], "diffusers")
    save_embedding(folders.embeddings / "mystyle.safetensors", random_vectors(2, WIDTH))
    first = engine.generate(_request(tiny_model_dir, "mystyle cat <lora:ink:0.5>"))
    (folders.loras / "ink.safetensors").rename(folders.loras / "renamed.safetensors")
    (folders.embeddings / "mystyle.safetensors").rename(folders.embeddings / "other.safetensors")
    again = engine.generate(first.request)
    np.testing.assert_array_equal(np.array(again.images[0]), np.array(first.images[0]))
    # An imported image records only the first 12 hex digits (A1111's short hash).
    short = first.request.replace(
        loras=(("ink", first.request.loras[0][1][:12]),),
        embeddings=(("mystyle", first.request.embeddings[0][1][:12]),),
    )
    np.testing.assert_array_equal(_pixels(engine, short), np.array(first.images[0]))


def test_missing_files_on_rerun_are_named(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path
) -> None:
    request = _request(
        tiny_model_dir, "mystyle cat <lora:ink:0.5>", loras=(("ink", "0123456789ab"),)
    )
    with pytest.raises(UserFacingError, match=r"The LoRA 'ink' \(sha256 0123456789ab\) is not in"):
        engine.generate(request)
    request = _request(tiny_model_dir, "a cat <lora:nothere>")
    with pytest.raises(UserFacingError, match="The LoRA 'nothere' is not in .*lora"):
        engine.generate(request)
    request = _request(tiny_model_dir, "mystyle", embeddings=(("mystyle", "abcdef012345"),))
    with pytest.raises(UserFacingError, match=r"The embedding 'mystyle' \(sha256 abcdef012345\)"):
        engine.generate(request)


def test_wrong_width_embedding_is_refused(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path
) -> None:
    path = save_embedding(folders.embeddings / "old.pt", random_vectors(2, 768), "a1111_pt")
    with pytest.raises(UserFacingError) as caught:
        engine.generate(_request(tiny_model_dir, "an old style"))
    message = str(caught.value)
    assert str(path) in message
    assert "768 wide (an SD 1.x embedding)" in message
    assert "32-wide" in message


def test_damaged_files_are_refused(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path
) -> None:
    folders.embeddings.mkdir(parents=True)
    (folders.embeddings / "broken.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(UserFacingError, match=r"broken.safetensors cannot be used: it is damaged"):
        engine.generate(_request(tiny_model_dir, "a broken thing"))
    folders.loras.mkdir(parents=True)
    (folders.loras / "bad.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(UserFacingError, match=r"The LoRA .*bad.safetensors cannot be used"):
        engine.generate(_request(tiny_model_dir, "a cat <lora:bad>"))


def test_pickled_code_in_a_pt_file_is_refused(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path
) -> None:
    import torch

    folders.embeddings.mkdir(parents=True)
    torch.save({"string_to_param": {"*": object()}}, str(folders.embeddings / "evil.pt"))
    with pytest.raises(UserFacingError, match="holds Python objects, not only tensors"):
        engine.generate(_request(tiny_model_dir, "evil"))


def test_lora_for_another_model_is_refused_and_leaves_the_model_clean(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path
) -> None:
    from diffusers import UNet2DConditionModel

    # SD 1.x-like: wider cross-attention (768 there, 48 here) and convolution projections.
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=48,
        attention_head_dim=(2, 4), norm_num_groups=16,
    )
    path = save_lora(folders.loras / "sd1.safetensors", lora_layers(unet, None), "kohya")
    base = _pixels(engine, _request(tiny_model_dir, "a cat"))
    with pytest.raises(UserFacingError) as caught:
        engine.generate(_request(tiny_model_dir, "a cat <lora:sd1>"))
    assert str(path) in str(caught.value)
    assert "made for another model" in str(caught.value)
    np.testing.assert_array_equal(_pixels(engine, _request(tiny_model_dir, "a cat")), base)


def test_cli_reports_a_missing_lora_with_status_2(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sd21_desktop.cli import main

    status = main(
        [
            "generate", "--model", str(tiny_model_dir), "--prompt", "a cat <lora:gone:1>",
            "--steps", "1", "--width", "64", "--height", "64", "--offline",
            "--lora-dir", str(tmp_path / "loras"),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: The LoRA 'gone' is not in")


def test_unused_broken_embedding_whose_name_is_part_of_a_word_is_ignored(
    engine: Engine, folders: NetworkFolders, tiny_model_dir: Path
) -> None:
    save_embedding(folders.embeddings / "art.pt", random_vectors(2, 768), "a1111_pt")
    result = engine.generate(_request(tiny_model_dir, "artstation, a cat"))
    assert result.request.embeddings == ()
