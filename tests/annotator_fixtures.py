"""Random-weight annotator files (HED, line art, OpenPose) for the tests that need controlnet-aux.

controlnet-aux is in the ``test`` extra without its dependencies (see dev.py): timm and
torchvision would replace the CPU torch. OpenPose's module imports ``torchvision.transforms``
for its face model's ``ToTensor``/``ToPILImage``, used only when faces are detected (never for
the body-only ``openpose``); where torchvision is absent, :func:`torchvision_stub` stands in for
it with classes that fail if called, so the body path runs on the real library code.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

needs_controlnet_aux = pytest.mark.skipif(
    importlib.util.find_spec("controlnet_aux") is None,
    reason="controlnet-aux is not installed (pip install '.[annotators]'; the test extra has it)",
)


class _NeverCalled:
    def __call__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the torchvision stand-in was used (face detection?)")


@contextlib.contextmanager
def torchvision_stub() -> Iterator[None]:
    """``torchvision.transforms`` with ToTensor/ToPILImage stand-ins, if torchvision is absent."""
    if importlib.util.find_spec("torchvision") is not None:
        yield
        return
    package = types.ModuleType("torchvision")
    package.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    transforms = types.ModuleType("torchvision.transforms")
    transforms.__spec__ = importlib.machinery.ModuleSpec("torchvision.transforms", None)
    transforms.ToTensor = type("ToTensor", (_NeverCalled,), {})  # type: ignore[attr-defined]
    transforms.ToPILImage = type("ToPILImage", (_NeverCalled,), {})  # type: ignore[attr-defined]
    package.transforms = transforms  # type: ignore[attr-defined]
    sys.modules.update({"torchvision": package, "torchvision.transforms": transforms})
    try:
        yield
    finally:
        sys.modules.pop("torchvision", None)
        sys.modules.pop("torchvision.transforms", None)


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, so only the given folder can hold the weights."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def annotator_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with random-weight HED and line-art files (OpenPose's: ``openpose_weights``)."""
    from sd21_desktop.engine.synthetic_annotators import save_synthetic_annotator

    folder = tmp_path_factory.mktemp("annotators")
    for name in ("hed", "lineart"):
        save_synthetic_annotator(folder, name)
    return folder


@pytest.fixture(scope="session")
def openpose_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with random-weight OpenPose files (body, hand, face: 500 MB)."""
    from sd21_desktop.engine.synthetic_annotators import save_synthetic_annotator

    with torchvision_stub():
        return save_synthetic_annotator(tmp_path_factory.mktemp("openpose"), "openpose")
