from __future__ import annotations

import json

import pytest

from sd21_desktop.engine.schedulers import SCHEDULER_NAMES, build_scheduler, scheduler_from_label
from sd21_desktop.errors import InvalidRequestError
from tests.conftest import REPO_ROOT

CONFIG = json.loads(
    (
        REPO_ROOT / "resources/model_configs/stable-diffusion-2-1/scheduler/scheduler_config.json"
    ).read_text()
)
EXPECTED_CLASSES = {
    "dpmpp_2m": "DPMSolverMultistepScheduler",
    "dpmpp_2m_karras": "DPMSolverMultistepScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler_a": "EulerAncestralDiscreteScheduler",
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "lms": "LMSDiscreteScheduler",
    "heun": "HeunDiscreteScheduler",
    "unipc": "UniPCMultistepScheduler",
}


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_scheduler_is_from_config_with_no_other_change(name: str) -> None:
    import diffusers

    scheduler = build_scheduler(name, CONFIG)
    assert type(scheduler).__name__ == EXPECTED_CLASSES[name]
    reference_class = getattr(diffusers, EXPECTED_CLASSES[name])
    extra = {"use_karras_sigmas": True} if name == "dpmpp_2m_karras" else {}
    reference = reference_class.from_config(CONFIG, **extra)
    assert dict(scheduler.config) == dict(reference.config)
    assert scheduler.config.prediction_type == "v_prediction"


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(InvalidRequestError, match="dpmpp_2m, dpmpp_2m_karras"):
        build_scheduler("nope", CONFIG)


def test_a1111_labels_map_back() -> None:
    assert scheduler_from_label("DPM++ 2M Karras").name == "dpmpp_2m_karras"  # type: ignore[union-attr]
    assert scheduler_from_label("Euler a").name == "euler_a"  # type: ignore[union-attr]
    assert scheduler_from_label("Restart") is None
