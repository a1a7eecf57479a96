"""The LDM-layout writer (tests/ldm_layout.py) against diffusers' own single-file reader, on the
tiny pipelines; bench/single_file_full.py runs the same check at full size through our loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.ldm_layout import save_ldm_checkpoint


def _image(pipeline: object, **extra: object) -> np.ndarray:
    import torch

    generator = torch.Generator().manual_seed(3)
    return pipeline(  # type: ignore[operator]
        "a lighthouse",
        num_inference_steps=2,
        height=64,
        width=64,
        generator=generator,
        output_type="np",
        **extra,
    ).images[0]


@pytest.mark.parametrize(
    ("fixture", "class_name"),
    [
        ("tiny_model_dir", "StableDiffusionPipeline"),
        ("tiny_inpaint_model_dir", "StableDiffusionInpaintPipeline"),
    ],
)
def test_a_tiny_pipeline_written_in_ldm_layout_reads_back_to_the_same_image(
    fixture: str, class_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import diffusers
    from PIL import Image

    folder = request.getfixturevalue(fixture)
    pipeline_class = getattr(diffusers, class_name)
    original = pipeline_class.from_pretrained(str(folder), safety_checker=None)
    checkpoint = save_ldm_checkpoint(original, tmp_path / "model.safetensors")
    from safetensors import safe_open

    with safe_open(str(checkpoint), framework="pt") as handle:
        keys = set(handle.keys())
    assert "model.diffusion_model.input_blocks.0.0.weight" in keys
    assert "first_stage_model.encoder.mid.attn_1.q.weight" in keys
    assert "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight" in keys
    reread = pipeline_class.from_single_file(
        str(checkpoint), config=str(folder), local_files_only=True, safety_checker=None
    )
    for name in ("unet", "vae", "text_encoder"):
        mine, theirs = getattr(original, name).state_dict(), getattr(reread, name).state_dict()
        assert set(mine) <= set(theirs) | {"text_model.embeddings.position_ids"}
        for key, value in mine.items():
            if key in theirs:
                assert bool((theirs[key] == value).all()), f"{name}.{key}"
    if class_name == "StableDiffusionInpaintPipeline":
        picture = Image.new("RGB", (64, 64), (120, 40, 200))
        mask = Image.new("L", (64, 64), 0)
        mask.paste(255, (16, 16, 48, 48))
        extra = {"image": picture, "mask_image": mask}
        assert np.array_equal(_image(original, **extra), _image(reread, **extra))
    else:
        assert np.array_equal(_image(original), _image(reread))


def test_an_inpainting_checkpoint_without_sidecar_is_epsilon_without_probing(
    tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    from sd21_desktop.engine.loader import single_file_prediction_type

    class NeverProbed:
        config = SimpleNamespace(in_channels=9)

        def __call__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("the probe ran")

    checkpoint = tmp_path / "512-inpainting-ema.safetensors"
    assert single_file_prediction_type(checkpoint, NeverProbed()) == "epsilon"
    checkpoint.with_suffix(".yaml").write_text('model:\n  params:\n    parameterization: "v"\n')
    assert single_file_prediction_type(checkpoint, NeverProbed()) == "v_prediction"
