"""Progress, cancel, caching, NaN detection and prediction-type handling of the engine."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.loader import single_file_prediction_type, unet_predicts_v
from sd21_desktop.engine.preview import latents_to_rgb
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine, StepInfo
from sd21_desktop.errors import GenerationCancelled, GenerationFailedError, UserFacingError


def request_for(model: Path, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": "a lamp",
        "model": str(model),
        "seed": 3,
        "steps": 6,
        "width": 64,
        "height": 64,
    }
    values.update(changes)
    return GenerationRequest(**values)


def test_one_progress_callback_per_step_in_order(tiny_model_dir: Path) -> None:
    steps: list[StepInfo] = []
    Engine().generate(request_for(tiny_model_dir), on_step=steps.append)
    assert [info.step for info in steps] == [1, 2, 3, 4, 5, 6]
    assert all(info.total == 6 for info in steps)
    assert all(b.elapsed >= a.elapsed for a, b in zip(steps, steps[1:], strict=False))
    assert steps[0].latents.shape == (1, 4, 8, 8)


def test_heun_reports_its_real_number_of_model_steps(tiny_model_dir: Path) -> None:
    steps: list[StepInfo] = []
    Engine().generate(request_for(tiny_model_dir, scheduler="heun", steps=3), on_step=steps.append)
    assert [info.step for info in steps] == list(range(1, steps[-1].total + 1))


def test_cancel_stops_within_one_step_and_the_next_job_runs(tiny_model_dir: Path) -> None:
    engine = Engine()
    seen: list[int] = []
    with pytest.raises(GenerationCancelled):
        engine.generate(
            request_for(tiny_model_dir, steps=20),
            on_step=lambda info: seen.append(info.step),
            should_cancel=lambda: len(seen) >= 2,
        )
    assert seen == [1, 2]
    result = engine.generate(request_for(tiny_model_dir, steps=2))
    assert len(result.images) == 1


def test_pipeline_stays_cached_across_schedulers_and_reloads_for_another_model(
    tiny_model_dir: Path, tiny_base_model_dir: Path
) -> None:
    collections: list[str] = []
    engine = Engine(collect_garbage=lambda: collections.append("collected"))
    for scheduler in ("dpmpp_2m", "euler", "ddim"):
        engine.generate(request_for(tiny_model_dir, scheduler=scheduler, steps=2))
    assert engine.cache.loads == 1
    assert collections == []
    engine.generate(request_for(tiny_base_model_dir, steps=2))
    assert engine.cache.loads == 2
    assert collections == ["collected"]  # the dropped pipeline's cycles, by the caller's collector


def test_memory_options_switch_without_reloading(tiny_model_dir: Path) -> None:
    engine = Engine()
    engine.generate(request_for(tiny_model_dir, steps=2))
    engine.options = RuntimeOptions(attention_slicing=True, vae_slicing=True, vae_tiling=True)
    engine.generate(request_for(tiny_model_dir, steps=2))
    assert engine.cache.loads == 1
    assert engine.cache.loaded is not None
    assert engine.cache.loaded.applied["vae_tiling"]


def test_nan_output_is_reported_not_saved_as_black(tiny_model_dir: Path) -> None:
    engine = Engine()
    loaded = engine.load(str(tiny_model_dir))
    bias = loaded.pipeline.unet.conv_out.bias
    original = bias.data.clone()
    bias.data.fill_(float("nan"))
    try:
        with pytest.raises(GenerationFailedError, match="NaN") as raised:
            engine.generate(request_for(tiny_model_dir, steps=2))
    finally:
        bias.data.copy_(original)
    # Already in float32 and eager: the half-precision advice would send the user in circles.
    assert "float32 on cpu." in raised.value.message
    assert "--dtype" not in raised.value.hint
    assert "download the model again" in raised.value.hint


@pytest.mark.parametrize(
    ("dtype_name", "path", "advised", "not_advised"),
    [
        ("float16", "none", "--dtype float32", "--accelerate none"),
        ("float32", "openvino", "--accelerate none", "--dtype"),
        ("float32", "none", "CFG scale", "--accelerate"),
    ],
)
def test_nan_advice_names_the_change_that_can_help(
    dtype_name: str, path: str, advised: str, not_advised: str
) -> None:
    from sd21_desktop.engine.context import _nan_advice

    assert advised in _nan_advice(dtype_name, path)
    assert not_advised not in _nan_advice(dtype_name, path)


def test_prediction_type_override_changes_only_the_scheduler(tiny_model_dir: Path) -> None:
    engine = Engine()
    native = engine.generate(request_for(tiny_model_dir, steps=2))
    overridden = engine.generate(request_for(tiny_model_dir, steps=2, prediction_type="epsilon"))
    assert native.runtime.prediction_type == "v_prediction"
    assert overridden.runtime.prediction_type == "epsilon"
    assert engine.cache.loads == 1


def test_cpu_rejects_half_precision_with_advice() -> None:
    from sd21_desktop.engine.device import resolve_dtype

    with pytest.raises(UserFacingError, match="float32"):
        resolve_dtype("float16", "cpu")


def test_unknown_device_is_refused() -> None:
    with pytest.raises(UserFacingError, match="Unknown device"):
        RuntimeOptions(device="tpu")


class _FakeUnet:
    """Stands in for a UNet: an epsilon model returns ~ its input, a v model ~ minus the image."""

    def __init__(self, predicts_v: bool) -> None:
        import torch

        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self.config = SimpleNamespace(cross_attention_dim=8)
        self.predicts_v = predicts_v

    def __call__(self, sample: Any, timestep: Any, encoder_hidden_states: Any) -> Any:
        return SimpleNamespace(sample=-2 * sample - 1 if self.predicts_v else sample.clone())


def test_probe_tells_v_from_epsilon() -> None:
    assert unet_predicts_v(_FakeUnet(predicts_v=True))
    assert not unet_predicts_v(_FakeUnet(predicts_v=False))


def test_sidecar_yaml_decides_before_the_probe(tmp_path: Path) -> None:
    checkpoint = tmp_path / "v2-1_768.safetensors"
    checkpoint.write_bytes(b"")
    checkpoint.with_suffix(".yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    assert single_file_prediction_type(checkpoint, _FakeUnet(predicts_v=False)) == "v_prediction"
    checkpoint.with_suffix(".yaml").write_text("model:\n  params:\n    linear_start: 0.00085\n")
    assert single_file_prediction_type(checkpoint, _FakeUnet(predicts_v=True)) == "epsilon"
    checkpoint.with_suffix(".yaml").unlink()
    assert single_file_prediction_type(checkpoint, _FakeUnet(predicts_v=True)) == "v_prediction"


def test_preview_is_small_rgb() -> None:
    import torch

    preview = latents_to_rgb(torch.randn(2, 4, 12, 16), index=1)
    assert preview.shape == (12, 16, 3)
    assert preview.dtype.name == "uint8"


def test_a_single_file_inpainting_checkpoint_is_recognised_by_its_header(tmp_path: Path) -> None:
    """9 input channels: read as an inpainting checkpoint (a file with nothing else in it then
    fails as damaged, not as the wrong kind; bench/single_file_full.py loads a real layout)."""
    import torch
    from safetensors.torch import save_file

    from sd21_desktop.engine.loader import checkpoint_unet_in_channels
    from sd21_desktop.errors import ModelLoadError

    checkpoint = tmp_path / "512-inpainting-ema.safetensors"
    save_file(
        {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 9, 3, 3)}, checkpoint
    )
    assert checkpoint_unet_in_channels(checkpoint) == 9
    with pytest.raises(ModelLoadError, match="damaged or not a Stable Diffusion 2.x|layer sizes"):
        Engine().load(str(checkpoint))
    other = tmp_path / "other.safetensors"
    save_file({"something": torch.zeros(1)}, other)
    assert checkpoint_unet_in_channels(other) is None
    assert checkpoint_unet_in_channels(tmp_path / "model.ckpt") is None


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (5, "depth-to-image checkpoint.*--model sd2-community/stable-diffusion-2-depth"),
        (7, "x4 upscaler checkpoint.*--model sd2-community/stable-diffusion-x4-upscaler"),
    ],
)
def test_single_file_depth_and_upscaler_checkpoints_point_to_the_folders(
    tmp_path: Path, channels: int, expected: str
) -> None:
    import torch
    from safetensors.torch import save_file

    from sd21_desktop.errors import ModelLoadError

    checkpoint = tmp_path / "model.safetensors"
    save_file(
        {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, channels, 3, 3)},
        checkpoint,
    )
    with pytest.raises(ModelLoadError, match=expected):
        Engine().load(str(checkpoint))
