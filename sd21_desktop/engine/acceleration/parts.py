"""The accelerated parts of a pipeline, and the drop-in ``forward`` that runs them.

A part's ``forward`` is replaced *on the module instance*: the pipeline keeps the very same
``UNet2DConditionModel`` / decoder object (its config, dtype, device, attention processors and
offload hooks all stay true), and every caller — each diffusers pipeline, every mode, the
engine's stages — gets the output type it always got. Per input signature (shapes and dtypes)
the backend prepares a runner once; a call it cannot take (an unusual argument, a failed
conversion, or NaN/inf coming back from finite inputs) runs the class's own eager ``forward``
instead, and that shape stays eager for the pipeline's life.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sd21_desktop.engine.acceleration.state import EAGER, Acceleration

Inputs = tuple[Any, ...]
Runner = Callable[[Inputs], Any]
_UNSET = object()


class Part(Protocol):
    """How to call one module with tensors only, and how to give its output back."""

    name: str

    def adapt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Inputs | None:
        """The call as positional tensors, or None when the fast path cannot take it."""

    def graph(self, module: Any, inputs: Inputs) -> Any:
        """A ``torch.nn.Module`` taking ``inputs`` and returning one tensor, for conversion."""

    def wrap(self, output: Any, kwargs: dict[str, Any]) -> Any:
        """The output in the type the module's own forward returns."""


class Backend(Protocol):
    name: str

    def prepare(self, part: Part, module: Any, inputs: Inputs) -> Runner:
        """A runner for calls shaped like ``inputs``; raises when the backend cannot make one."""


def signature(inputs: Inputs) -> str:
    """The shapes and dtypes of the inputs: what a static graph is specialised for."""
    return ";".join(f"{tuple(t.shape)}:{str(t.dtype).removeprefix('torch.')}" for t in inputs)


def describe(part: Part, inputs: Inputs) -> str:
    """A short user-facing description of a call: the latent size (for images) and batch."""
    shape = tuple(inputs[0].shape)
    name = part.name.replace("_", " ")
    if len(shape) != 4:
        return f"the {name}, batch {shape[0]}"
    scale = 1 if part.name == "vae_encoder" else 8  # the encoder takes pixels, not latents
    return f"the {name} at {shape[-1] * scale}x{shape[-2] * scale}, batch {shape[0]}"


def live_change(module: Any) -> str | None:
    """Why ``module`` must run eager now: a converted graph holds the weights and code it had
    when it was made, so an active LoRA (peft layers) or a forward hook (the textual-inversion
    vectors) would silently be left out. None when the graph computes what the module would."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for child in module.modules():
        if isinstance(child, BaseTunerLayer):
            return "a LoRA is active"
        if child._forward_hooks or child._forward_pre_hooks:
            return "an embedding or another hook changes it"
    return None


class NonFiniteOutput(ArithmeticError):
    """An accelerated graph gave NaN/inf where its input had none: eager must redo the call."""


def all_finite(tensors: Any) -> bool:
    """Whether every floating tensor in ``tensors`` (one tensor or a tuple) is finite."""
    import torch

    items = tensors if isinstance(tensors, tuple | list) else (tensors,)
    return all(
        bool(torch.isfinite(t).all())
        for t in items
        if isinstance(t, torch.Tensor) and t.is_floating_point()
    )


class AcceleratedForward:
    """Replaces ``module.forward``; see the module docstring."""

    def __init__(self, module: Any, part: Part, backend: Backend, state: Acceleration) -> None:
        self.module = module
        self.part = part
        self.backend = backend
        self.state = state
        self.runners: dict[str, Runner | None] = {}

    def eager(self, *args: Any, **kwargs: Any) -> Any:
        """The class's own forward (the instance attribute is this object)."""
        self.state.note_path(self.part.name, EAGER)
        return type(self.module).forward(self.module, *args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        inputs = self.part.adapt(args, kwargs)
        if inputs is None:
            return self.eager(*args, **kwargs)
        reason = live_change(self.module)
        if reason is not None:
            self.state.job_notice(
                f"{reason[0].upper()}{reason[1:]}, so the {self.part.name.replace('_', ' ')} "
                f"ran in plain PyTorch ({self.backend.name} graphs hold the model's own weights)."
            )
            return self.eager(*args, **kwargs)
        key = signature(inputs)
        runner = self.runners.get(key, _UNSET)
        if runner is _UNSET:
            runner = self._prepare(inputs)
            self.runners[key] = runner
        if runner is None:
            return self.eager(*args, **kwargs)
        try:
            output = runner(inputs)  # type: ignore[operator]
            if not all_finite(output) and all_finite(inputs):
                raise NonFiniteOutput("its output had NaN or infinite values, its input none")
        except Exception as error:  # a backend's failure must never fail the job
            self.runners[key] = None
            self._fell_back(inputs, error)
            return self.eager(*args, **kwargs)
        self.state.note_path(self.part.name, self.backend.name)
        return self.part.wrap(output, kwargs)

    def _prepare(self, inputs: Inputs) -> Runner | None:
        try:
            return self.backend.prepare(self.part, self.module, inputs)
        except Exception as error:  # conversion/compilation failures of any kind
            self._fell_back(inputs, error)
            return None

    def _fell_back(self, inputs: Inputs, error: Exception) -> None:
        reason = str(error).strip().splitlines()[0][:160] if str(error).strip() else ""
        self.state.notice(
            f"{self.backend.name} could not run {describe(self.part, inputs)} "
            f"({type(error).__name__}{': ' + reason if reason else ''}); it ran in plain "
            "PyTorch instead."
        )


def install_forward(module: Any, part: Part, backend: Backend, state: Acceleration) -> None:
    """Make ``module`` run through ``backend`` (idempotent: re-installing replaces)."""
    module.forward = AcceleratedForward(module, part, backend, state)


class UNetPart:
    """``UNet2DConditionModel``: sample, timestep, text embeddings, and either the upscaler's
    noise level as ``class_labels`` or a ControlNet's down- and mid-block residuals (the graph
    tells them apart by its input count: 4, or 3 + the residuals). The timestep becomes a float
    vector of the batch size: the UNet does exactly that itself before embedding it, so the
    graph computes the same numbers."""

    name = "unet"
    _plain: tuple[str, ...] = (
        "timestep_cond",
        "attention_mask",
        "cross_attention_kwargs",
        "added_cond_kwargs",
        "down_intrablock_additional_residuals",
        "encoder_attention_mask",
    )
    """Arguments the converted graph does not take: a call that sets one runs eager."""

    def adapt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Inputs | None:
        import torch

        names = ("sample", "timestep", "encoder_hidden_states", "class_labels")
        given = {**dict(zip(names, args, strict=False)), **kwargs}
        if any(given.get(name) is not None for name in self._plain) or len(args) > len(names):
            return None
        sample, timestep = given.get("sample"), given.get("timestep")
        context = given.get("encoder_hidden_states")
        if not all(isinstance(t, torch.Tensor) for t in (sample, context)):
            return None
        assert isinstance(sample, torch.Tensor)
        steps = torch.as_tensor(timestep, device=sample.device).to(torch.float32).reshape(-1)
        steps = steps.expand(sample.shape[0]).contiguous()
        labels = given.get("class_labels")
        residuals = _residuals(given)
        if residuals is None or (residuals and labels is not None):
            return None
        if residuals:
            return (sample, steps, context, *residuals)
        return (sample, steps, context) if labels is None else (sample, steps, context, labels)

    def graph(self, module: Any, inputs: Inputs) -> Any:
        import torch

        forward = type(module).forward

        class UNetGraph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.unet = module

            def forward(self, *tensors: Any) -> Any:
                if len(tensors) > 4:  # ControlNet residuals: the down blocks', then the mid's
                    return forward(self.unet, *tensors[:3],
                                   down_block_additional_residuals=tensors[3:-1],
                                   mid_block_additional_residual=tensors[-1],
                                   return_dict=False)[0]  # fmt: skip
                labels = tensors[3] if len(tensors) > 3 else None
                return forward(self.unet, tensors[0], tensors[1], tensors[2],
                               class_labels=labels, return_dict=False)[0]  # fmt: skip

        return UNetGraph()

    def wrap(self, output: Any, kwargs: dict[str, Any]) -> Any:
        if not kwargs.get("return_dict", True):
            return (output,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=output)


def _residuals(given: dict[str, Any]) -> tuple[Any, ...] | None:
    """A ControlNet's residuals as one tuple (down blocks', then mid's), () without, None when
    they are not all tensors (then the call runs eager)."""
    import torch

    down = given.get("down_block_additional_residuals")
    mid = given.get("mid_block_additional_residual")
    if down is None and mid is None:
        return ()
    if down is None or mid is None or not isinstance(down, (tuple, list)):
        return None
    residuals = (*down, mid)
    return residuals if all(isinstance(t, torch.Tensor) for t in residuals) else None


class ImagePart:
    """One tensor in, one tensor out: the VAE's ``Decoder`` (latents after ``post_quant_conv``
    → pixels, the costly half of ``vae.decode``) and ``Encoder`` (pixels → moments, the costly
    half of ``vae.encode``). Tiling and slicing call them per tile/image, each shape prepared
    once."""

    def __init__(self, name: str) -> None:
        self.name = name

    def adapt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Inputs | None:
        import torch

        sample = args[0] if args else kwargs.get("sample")
        extra = [*args[1:], *(v for k, v in kwargs.items() if k != "sample")]
        if any(value is not None for value in extra) or not isinstance(sample, torch.Tensor):
            return None
        return (sample,)

    def graph(self, module: Any, inputs: Inputs) -> Any:
        import torch

        forward = type(module).forward

        class ImageGraph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.part = module

            def forward(self, sample: Any) -> Any:
                return forward(self.part, sample)

        return ImageGraph()

    def wrap(self, output: Any, kwargs: dict[str, Any]) -> Any:
        return output


class TextEncoderPart:
    """``CLIPTextModel`` called with token ids only (the prompt encoder's call): the graph gives
    the last hidden state and the pooled output; a call asking for more runs eager."""

    name = "text_encoder"

    def adapt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Inputs | None:
        import torch

        ids = args[0] if args else kwargs.get("input_ids")
        taken = ("input_ids", "return_dict")
        extra = [*args[1:], *(v for k, v in kwargs.items() if k not in taken)]
        if any(value not in (None, False) for value in extra) or not isinstance(ids, torch.Tensor):
            return None
        return (ids,)

    def graph(self, module: Any, inputs: Inputs) -> Any:
        import torch

        forward = type(module).forward

        class TextGraph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = module

            def forward(self, ids: Any) -> Any:
                output = forward(self.encoder, ids)
                return output.last_hidden_state, output.pooler_output

        return TextGraph()

    def wrap(self, output: Any, kwargs: dict[str, Any]) -> Any:
        hidden, pooled = output
        if kwargs.get("return_dict") is False:
            return (hidden, pooled)
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        return BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled)
