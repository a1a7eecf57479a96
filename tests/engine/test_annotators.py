"""HED, line art and OpenPose preprocessors: controlnet-aux's detectors on their weight files,
offered only when both are here and explained in a line when not."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine import annotators
from sd21_desktop.engine.annotators import ANNOTATOR_REPO, unavailable, weights_folder
from sd21_desktop.engine.control_preprocess import preprocess
from sd21_desktop.errors import UserFacingError
from tests.annotator_fixtures import needs_controlnet_aux, torchvision_stub


def picture(width: int = 192, height: int = 128) -> Image.Image:
    """Smooth shapes and noise: something for edge and line detectors to respond to."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width]
    disc = ((x - width / 3) ** 2 + (y - height / 2) ** 2 < (height / 3) ** 2) * 200
    pixels = np.stack([disc, x * 255 // width, y * 255 // height], -1).astype(np.int64)
    pixels += rng.integers(0, 40, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def direct(name: str, folder: Path, image: Image.Image) -> Image.Image:
    """controlnet_aux's own call, as AUTOMATIC1111 makes it (preprocessor resolution 512)."""
    spec = annotators.ANNOTATORS[name]
    detector_class = getattr(annotators.library_module(spec.module), spec.detector)
    detector = detector_class.from_pretrained(str(folder))
    made: Image.Image = detector(image, detect_resolution=512, image_resolution=min(image.size))
    return made


@needs_controlnet_aux
@pytest.mark.parametrize("name", ["hed", "lineart"])
def test_hed_and_lineart_equal_controlnet_aux(
    name: str, annotator_weights: Path, empty_hub_cache: Path
) -> None:
    image = picture()  # sides multiples of 64: controlnet_aux keeps the size
    assert unavailable(name, annotator_weights) is None
    ours = np.asarray(preprocess(name, image, annotators=annotator_weights))
    theirs = np.asarray(direct(name, annotator_weights, image).convert("RGB"))
    assert ours.shape == (128, 192, 3)
    assert theirs.std() > 1.0  # the random detector draws something to compare
    assert np.array_equal(ours, theirs)


@needs_controlnet_aux
def test_openpose_equals_controlnet_aux(openpose_weights: Path, empty_hub_cache: Path) -> None:
    image = picture()
    with torchvision_stub():
        assert unavailable("openpose", openpose_weights) is None
        ours = np.asarray(preprocess("openpose", image, annotators=openpose_weights))
        theirs = np.asarray(direct("openpose", openpose_weights, image).convert("RGB"))
    # A random-weight pose model finds no body: both draw an empty (black) skeleton.
    assert ours.shape == (128, 192, 3)
    assert np.array_equal(ours, theirs)


@needs_controlnet_aux
def test_an_odd_size_comes_back_at_the_pictures_size(
    annotator_weights: Path, empty_hub_cache: Path
) -> None:
    image = picture(100, 70)  # controlnet_aux would give 128x64
    made = preprocess("hed", image, annotators=annotator_weights)
    assert made.size == (100, 70)
    assert made.mode == "RGB"


@pytest.mark.parametrize("name", ["hed", "lineart", "openpose"])
def test_missing_weights_say_which_files_go_where(
    name: str, tmp_path: Path, empty_hub_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *_: object())  # installed
    folder = tmp_path / "annotators"
    reason = unavailable(name, folder)
    assert reason is not None
    assert "\n" not in reason
    assert str(folder) in reason
    assert ANNOTATOR_REPO in reason
    for file in annotators.ANNOTATORS[name].files:
        assert file in reason
    with pytest.raises(UserFacingError, match=annotators.ANNOTATORS[name].files[0]):
        preprocess(name, picture(), annotators=folder)


def test_a_missing_library_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real: Callable[..., Any] = importlib.util.find_spec
    absent = {"controlnet_aux", "torchvision"}
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda m, *a: None if m in absent else real(m, *a)
    )
    reason = unavailable("openpose", tmp_path)
    assert reason is not None
    assert "controlnet_aux, torchvision" in reason
    assert "sd21-desktop[annotators]" in reason
    with pytest.raises(UserFacingError, match="not installed"):
        preprocess("hed", picture(), annotators=tmp_path)


def test_weights_in_the_hub_cache_are_found(empty_hub_cache: Path, tmp_path: Path) -> None:
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = empty_hub_cache / "models--lllyasviel--Annotators"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    (snapshot / "sk_model.pth").write_bytes(b"x")
    assert weights_folder("lineart", tmp_path) is None  # sk_model2.pth is missing
    (snapshot / "sk_model2.pth").write_bytes(b"x")
    assert weights_folder("lineart", tmp_path) == snapshot
    assert weights_folder("lineart", None) == snapshot
    shutil.copy(snapshot / "sk_model.pth", tmp_path / "sk_model.pth")
    shutil.copy(snapshot / "sk_model2.pth", tmp_path / "sk_model2.pth")
    assert weights_folder("lineart", tmp_path) == tmp_path  # the annotators folder first


@needs_controlnet_aux
def test_damaged_weights_are_explained(tmp_path: Path, empty_hub_cache: Path) -> None:
    (tmp_path / "ControlNetHED.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserFacingError, match="HED soft edges preprocessor could not be loaded"):
        preprocess("hed", picture(), annotators=tmp_path)
