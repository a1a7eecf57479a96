"""Masked content (original, fill, latent noise, latent nothing): what the pipeline receives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.masked_content import fill_masked, latent_mask, seed_noise
from sd21_desktop.engine.runner import Engine
from tests.engine.test_img2img import box_mask, picture, request_for


def test_fill_keeps_unmasked_pixels_and_fills_the_hole_from_its_sides() -> None:
    pixels = np.zeros((64, 96, 3), dtype=np.uint8)
    pixels[:, :48] = (255, 0, 0)
    pixels[:, 48:] = (0, 0, 255)
    pixels[:, 40:56] = (0, 255, 0)  # what the mask hides
    image, mask = Image.fromarray(pixels), box_mask(96, 64, (40, 0, 56, 64))
    filled = np.asarray(fill_masked(image, mask)).astype(int)
    keep = np.asarray(mask) == 0
    assert np.array_equal(filled[keep], pixels[keep])
    hole = filled[:, 40:56]
    assert hole[..., 1].max() < 10  # none of the hidden green survives
    assert hole[:, 0, 0].mean() > hole[:, -1, 0].mean() + 40  # redder on the red side
    assert hole[:, -1, 2].mean() > hole[:, 0, 2].mean() + 40  # bluer on the blue side


def test_the_latent_mask_is_rounded_to_the_latent_grid() -> None:
    mask = latent_mask(box_mask(64, 64, (0, 0, 20, 64)), 8, 8)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert mask[:, :2].all()
    assert not mask[:, 3:].any()


class Spy:
    """Records what diffusers' inpaint pipeline receives and encodes."""

    def __init__(self, pipeline: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.images: list[Any] = []
        self.image_latents: list[torch.Tensor] = []
        self.masked_latents: list[torch.Tensor] = []
        kind = type(pipeline)
        call, prepare, prepare_mask = kind.__call__, kind.prepare_latents, kind.prepare_mask_latents

        def spy_call(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            self.images.append(kwargs["image"])
            return call(pipe, *args, **kwargs)

        def spy_prepare(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            out = prepare(pipe, *args, **kwargs)
            if len(out) == 3:
                self.image_latents.append(out[2].clone())
            return out

        def spy_mask(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            out = prepare_mask(pipe, *args, **kwargs)
            self.masked_latents.append(out[1].clone())
            return out

        monkeypatch.setattr(kind, "__call__", spy_call)
        monkeypatch.setattr(kind, "prepare_latents", spy_prepare)
        monkeypatch.setattr(kind, "prepare_mask_latents", spy_mask)


def run(
    engine: Engine, store: InputImages, model: Path, content: str, **changes: Any
) -> Image.Image:
    image, mask = picture(64, 64, seed=5), box_mask(64, 64, (16, 16, 48, 48))
    request = request_for(
        model,
        mode="inpaint",
        init_image=store.put(image),
        mask_image=store.put(mask),
        masked_content=content,
        **changes,
    )
    return engine.generate(request, inputs=store).images[0]


def test_fill_changes_the_start_image_the_pipeline_receives(
    engine: Engine, store: InputImages, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(engine.load(str(tiny_model_dir)).pipeline_for("inpaint"), monkeypatch)
    first = run(engine, store, tiny_model_dir, "fill")
    expected = fill_masked(picture(64, 64, seed=5), box_mask(64, 64, (16, 16, 48, 48)))
    assert np.array_equal(np.asarray(spy.images[0]), np.asarray(expected))
    assert np.array_equal(np.asarray(run(engine, store, tiny_model_dir, "fill")), np.asarray(first))
    original = run(engine, store, tiny_model_dir, "original")
    assert not np.array_equal(np.asarray(original), np.asarray(first))


@pytest.mark.parametrize("content", ["latent-nothing", "latent-noise"])
def test_latent_choices_replace_the_masked_latent_cells(
    engine: Engine,
    store: InputImages,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    content: str,
) -> None:
    spy = Spy(engine.load(str(tiny_model_dir)).pipeline_for("inpaint"), monkeypatch)
    filled = run(engine, store, tiny_model_dir, "fill")
    changed = run(engine, store, tiny_model_dir, content)
    base, got = spy.image_latents
    assert got.shape == base.shape == (1, 4, 8, 8)
    cells = torch.from_numpy(latent_mask(box_mask(64, 64, (16, 16, 48, 48)), 8, 8)).bool()
    assert torch.equal(got[:, :, ~cells], base[:, :, ~cells])  # the rest: the filled encode
    if content == "latent-nothing":
        assert torch.count_nonzero(got[:, :, cells]) == 0
    else:
        noise = seed_noise((4, 8, 8), [42])
        assert torch.equal(got[:, :, cells], noise[:, :, cells])
    assert not np.array_equal(np.asarray(changed), np.asarray(filled))
    again = run(engine, store, tiny_model_dir, content)
    assert np.array_equal(np.asarray(again), np.asarray(changed))


def test_latent_noise_on_the_inpainting_model_changes_only_the_start_latents(
    engine: Engine,
    store: InputImages,
    tiny_inpaint_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy(engine.load(str(tiny_inpaint_model_dir)).pipeline_for("inpaint"), monkeypatch)
    filled = run(engine, store, tiny_inpaint_model_dir, "fill", strength=0.6, batch_size=2)
    noisy = run(engine, store, tiny_inpaint_model_dir, "latent-noise", strength=0.6, batch_size=2)
    # The masked-image conditioning is encoded as before; the two seeds get their own noise.
    assert torch.equal(spy.masked_latents[0], spy.masked_latents[1])
    assert not np.array_equal(np.asarray(noisy), np.asarray(filled))
