"""The engine as a plan of stages: new modes as recipes, progress across stages, the seams that
the next features plug into (prompt encoder, initial noise, extra pipeline arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sd21_desktop.engine.conditioning import PromptEmbeddings, encode_prompt
from sd21_desktop.engine.context import StageContext, StepInfo
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.plan import Plan, Stage, Work
from sd21_desktop.engine.recipes import RECIPES, plan_for
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.engine.stages import Condition, Denoise, ResultAsInput
from sd21_desktop.errors import GenerationCancelled, OutOfMemoryError


def request_for(model: Path, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {
        "prompt": "a lamp on a desk",
        "negative_prompt": "blurry",
        "model": str(model),
        "seed": 11,
        "steps": 6,
        "width": 64,
        "height": 64,
        "scheduler": "ddim",
    }
    values.update(changes)
    return GenerationRequest(**values)


def txt2img_then_img2img(request: GenerationRequest) -> list[Stage]:
    """A toy mode made only of existing stages: a second pass over the first pass's result."""
    return [Condition(), Denoise("txt2img"), ResultAsInput(), Denoise("img2img")]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def test_a_recipe_of_existing_stages_runs_and_equals_the_two_runs_it_chains(
    engine: Engine, tiny_model_dir: Path, tmp_path: Path
) -> None:
    request = request_for(tiny_model_dir, batch_size=2)
    chained = engine.run(Plan(txt2img_then_img2img(request)), request)
    assert len(chained.images) == 2
    assert chained.seeds == [11, 12]
    # The same as running txt2img, then img2img on each result with that image's seed.
    store = InputImages(tmp_path / "inputs")
    first = engine.generate(request)
    for index, seed in enumerate(first.seeds):
        second = engine.generate(
            request.replace(
                mode="img2img", seed=seed, batch_size=1, init_image=store.put(first.images[index])
            ),
            inputs=store,
        )
        assert np.array_equal(np.asarray(chained.images[index]), np.asarray(second.images[0]))


def test_progress_across_a_two_stage_plan_is_monotonic_and_ends_at_the_total(
    engine: Engine, tiny_model_dir: Path
) -> None:
    request = request_for(tiny_model_dir, steps=6, strength=0.5)
    steps: list[StepInfo] = []
    engine.run(Plan(txt2img_then_img2img(request)), request, on_step=steps.append)
    total = 6 + 3  # all of txt2img's steps, then strength 0.5 of 6
    assert [info.step for info in steps] == list(range(1, total + 1))
    assert {info.total for info in steps} == {total}
    assert [info.stage for info in steps] == ["denoise 1/2"] * 6 + ["denoise 2/2"] * 3
    assert [info.stage_step for info in steps] == [1, 2, 3, 4, 5, 6, 1, 2, 3]
    assert all(b.elapsed >= a.elapsed for a, b in zip(steps, steps[1:], strict=False))


def test_cancel_in_the_second_stage_stops_within_one_step(
    engine: Engine, tiny_model_dir: Path
) -> None:
    request = request_for(tiny_model_dir, steps=4)
    seen: list[int] = []
    with pytest.raises(GenerationCancelled):
        engine.run(
            Plan(txt2img_then_img2img(request)),
            request,
            on_step=lambda info: seen.append(info.step),
            should_cancel=lambda: len(seen) >= 5,
        )
    assert seen == [1, 2, 3, 4, 5]


def test_every_mode_has_a_recipe_and_labels_number_repeated_stages(tiny_model_dir: Path) -> None:
    assert set(RECIPES) == {"txt2img", "img2img", "inpaint", "depth", "upscale"}
    assert plan_for(request_for(tiny_model_dir)).labels() == ["condition", "denoise"]
    chained = Plan(txt2img_then_img2img(request_for(tiny_model_dir)))
    assert chained.labels() == ["condition", "denoise 1/2", "use result", "denoise 2/2"]


def test_the_default_encoder_is_diffusers_encode_prompt(
    engine: Engine, tiny_model_dir: Path
) -> None:
    import torch

    request = request_for(tiny_model_dir)
    pipeline = engine.load(str(tiny_model_dir)).pipeline_for("txt2img")
    ours = encode_prompt(pipeline, request)
    with torch.no_grad():
        theirs = pipeline.encode_prompt(request.prompt, pipeline.device, 1, True, "blurry")
    assert torch.equal(ours.prompt, theirs[0])
    assert torch.equal(ours.negative, theirs[1])
    assert encode_prompt(pipeline, request.replace(guidance_scale=1.0)).negative is None


def test_a_swapped_encoder_conditions_every_denoise(engine: Engine, tiny_model_dir: Path) -> None:
    """A replacement encoder (prompt weighting, LoRA, …) is all a new conditioning needs."""
    request = request_for(tiny_model_dir)
    other = request.replace(prompt="a red boat at sea")

    def encode_other(pipeline: Any, asked: GenerationRequest) -> PromptEmbeddings:
        return encode_prompt(pipeline, other)

    swapped = engine.run(Plan([Condition(encode_other), Denoise("txt2img")]), request)
    expected = engine.generate(other)
    assert np.array_equal(np.asarray(swapped.images[0]), np.asarray(expected.images[0]))
    assert swapped.request == request


def test_initial_noise_is_one_replaceable_function(engine: Engine, tiny_model_dir: Path) -> None:
    """Noise drawn for another seed gives that seed's image (DDIM adds no noise later)."""
    import torch

    from sd21_desktop.engine.denoise import initial_latents

    def noise_of_seed_40(pipeline: Any, request: GenerationRequest, generators: Any, dtype: Any):
        return initial_latents(pipeline, request, [torch.Generator().manual_seed(40)], dtype)

    request = request_for(tiny_model_dir)
    other = engine.run(Plan([Condition(), Denoise("txt2img", noise_of_seed_40)]), request)
    expected = engine.generate(request.replace(seed=40))
    assert np.array_equal(np.asarray(other.images[0]), np.asarray(expected.images[0]))


class _WithArguments(Stage):
    """A stage adding pipeline arguments for every later denoise (as ControlNet will)."""

    name = "arguments"
    needs_model = False

    def run(self, work: Work, context: StageContext) -> Work:
        return work.but(pipeline_arguments={"guidance_rescale": 0.7})


def test_extra_pipeline_arguments_reach_the_pipeline(engine: Engine, tiny_model_dir: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from sd21_desktop.engine.schedulers import build_scheduler

    request = request_for(tiny_model_dir, steps=3)
    result = engine.run(Plan([_WithArguments(), Condition(), Denoise("txt2img")]), request)
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_model_dir))
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = build_scheduler("ddim", pipe.scheduler.config)
    reference = pipe(
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        num_inference_steps=3,
        width=64,
        height=64,
        guidance_rescale=0.7,
        generator=torch.Generator("cpu").manual_seed(11),
    ).images[0]
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(reference))
    plain = engine.generate(request)
    assert not np.array_equal(np.asarray(result.images[0]), np.asarray(plain.images[0]))


class _OutOfMemory(Stage):
    name = "greedy"

    def run(self, work: Work, context: StageContext) -> Work:
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_the_runner_turns_out_of_memory_in_any_stage_into_advice(
    engine: Engine, tiny_model_dir: Path
) -> None:
    request = request_for(tiny_model_dir)
    with pytest.raises(OutOfMemoryError, match="Out of memory on cpu at 64x64, batch 1") as caught:
        engine.run(Plan([Condition(), _OutOfMemory()]), request)
    assert "attention slicing" in str(caught.value)
