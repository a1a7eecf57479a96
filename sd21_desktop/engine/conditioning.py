"""Prompt → embeddings: the conditioning every denoise stage reads.

The encoder is one swappable function, :data:`PromptEncoder` ``(pipeline, request) ->``
:class:`PromptEmbeddings`. The default, :func:`encode_prompt`, is diffusers' own
``encode_prompt`` of the pipeline that will denoise, with the arguments the pipeline itself would
pass, so handing its embeddings to the pipeline gives exactly the image the pipeline makes from
the prompt text. Prompt weighting, long prompts, textual inversion and LoRA replace the encoder
(``Condition(encoder=...)``), never the modes.

Embeddings are for *one* image (batch dimension 1); the pipeline repeats them for
``num_images_per_prompt`` as it does for its own, and :meth:`PromptEmbeddings.repeat` makes one
per input image when a denoise starts from several (the results of an earlier stage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sd21_desktop.engine.request import GenerationRequest


@dataclass(frozen=True)
class PromptEmbeddings:
    """``prompt_embeds`` and ``negative_prompt_embeds`` as diffusers pipelines take them."""

    prompt: Any
    negative: Any | None
    """None without classifier-free guidance (guidance scale ≤ 1): the pipeline needs none."""
    request: GenerationRequest | None = None
    """The request as encoded, when the encoder records something in it (the LoRA and
    embedding files used); None: unchanged."""
    notices: tuple[str, ...] = ()

    def repeat(self, count: int) -> PromptEmbeddings:
        """The same conditioning for ``count`` images (batch dimension ``count``)."""
        if count == 1:
            return self
        negative = None if self.negative is None else self.negative.repeat(count, 1, 1)
        return replace(self, prompt=self.prompt.repeat(count, 1, 1), negative=negative)

    def arguments(self) -> dict[str, Any]:
        """The pipeline keyword arguments (in place of ``prompt`` / ``negative_prompt``)."""
        return {"prompt_embeds": self.prompt, "negative_prompt_embeds": self.negative}


PromptEncoder = Callable[[Any, GenerationRequest], PromptEmbeddings]
"""``(pipeline, request) -> PromptEmbeddings``: the conditioning stage's one job."""


def encode_prompt(pipeline: Any, request: GenerationRequest) -> PromptEmbeddings:
    """diffusers' own encoding of the request's prompt and negative prompt (no special syntax)."""
    import torch

    guidance = request.guidance_scale > 1.0
    with torch.no_grad():
        prompt, negative = pipeline.encode_prompt(
            request.prompt,
            pipeline._execution_device,
            1,
            guidance,
            request.negative_prompt or None,
        )
    return PromptEmbeddings(prompt, negative if guidance else None)
