"""A generation as a plan: the state that flows from stage to stage, and what a stage is.

A :class:`Stage` has one job (fit the inputs, encode the prompt, denoise, upscale, crop back…). It
takes the :class:`Work` so far and returns the next one (a copy with some fields replaced); the
runner lends it a :class:`~sd21_desktop.engine.context.StageContext` for everything shared — the
loaded model, fresh schedulers and seeded generators, the step callback (progress and cancel), the
NaN check, status text. A mode is a recipe: a list of stages (:mod:`sd21_desktop.engine.recipes`).
Nothing here is stored: a plan is derived from the request each time it runs.

This module imports no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from sd21_desktop.engine.request import GenerationRequest

if TYPE_CHECKING:
    from sd21_desktop.engine.conditioning import PromptEmbeddings
    from sd21_desktop.engine.context import StageContext
    from sd21_desktop.engine.imageprep import PreparedInputs
    from sd21_desktop.engine.inputs import InputImages


class PipelineAddition(Protocol):
    """Something a stage adds to every later denoise call: a pipeline around the plain one and
    its own arguments (e.g. ControlNet units, :mod:`sd21_desktop.engine.controlnet`)."""

    def apply(self, pipeline: Any, kind: str, work: Work) -> tuple[Any, dict[str, Any]]:
        """The pipeline to call instead of ``pipeline`` (a denoise of ``kind``) and the
        arguments to add to the call."""
        ...


@dataclass(frozen=True)
class Work:
    """What a plan has made so far. Stages never modify it: they return ``work.but(...)``."""

    request: GenerationRequest
    """The request as run (depth mode fills in the estimated ``depth_map``)."""
    seeds: tuple[int, ...]
    inputs: InputImages | None = None
    prepared: PreparedInputs | None = None
    """The user's input fitted to the processing size, and how to bring a result back."""
    init: tuple[Image.Image, ...] = ()
    """What the next denoise or upscale starts from: one image for the whole batch, or one per
    seed (a previous stage's results)."""
    latents: Any = None
    """Latents a stage hands to the next denoise instead of ``init`` (the latent hires fix)."""
    embeddings: PromptEmbeddings | None = None
    """The conditioning stage's output, read by every denoise stage."""
    images: tuple[Image.Image, ...] = ()
    """The latest results, one per seed."""
    notices: tuple[str, ...] = ()
    pipeline_arguments: Mapping[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for every denoise call."""
    additions: tuple[PipelineAddition, ...] = ()
    """Applied, in order, to every later denoise call (:class:`PipelineAddition`)."""

    def but(self, **changes: Any) -> Work:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def noting(self, *notices: str) -> Work:
        """A copy with these notices added (empty ones skipped)."""
        return replace(self, notices=(*self.notices, *(n for n in notices if n)))


class Stage:
    """One step of a plan. Subclasses set :attr:`name` and implement :meth:`run`."""

    name = "stage"
    needs_model = True
    """False for stages that must run (and fail) before the slow model load."""

    def run(self, work: Work, context: StageContext) -> Work:
        raise NotImplementedError

    def planned_steps(self, work: Work, context: StageContext) -> int:
        """How many step callbacks this stage will report (0 for stages without steps); asked
        once, before the plan's first step, so the progress total covers the whole plan."""
        return 0

    def out_of_memory(self, request: GenerationRequest) -> tuple[str, str]:
        """(what ran out, what to change) for an out-of-memory error in this stage."""
        return (
            f"at {request.width}x{request.height}, batch {request.batch_size}",
            "Lower the size or batch, or turn on attention slicing, VAE tiling or CPU offload in "
            "Settings.",
        )


@dataclass(frozen=True)
class Plan:
    """The stages of one generation, in order."""

    stages: Sequence[Stage]

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("a plan needs at least one stage")

    def labels(self) -> list[str]:
        """Each stage's progress label: its name, numbered when the name repeats
        (``denoise 1/2``, ``denoise 2/2``)."""
        names = [stage.name for stage in self.stages]
        seen: dict[str, int] = {}
        labels = []
        for name in names:
            seen[name] = seen.get(name, 0) + 1
            count = names.count(name)
            labels.append(f"{name} {seen[name]}/{count}" if count > 1 else name)
        return labels
