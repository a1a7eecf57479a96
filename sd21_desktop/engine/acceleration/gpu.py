"""What a CUDA GPU gets beyond the dtype: channels_last and a VAE decode that cannot overflow.

fp16 is already the CUDA default (:func:`~sd21_desktop.engine.device.resolve_dtype`) and SD 2.1's
``upcast_attention`` comes from the model config; SDPA is the default attention processor and
xformers a setting (:func:`~sd21_desktop.engine.loader.apply_memory_options`). The VAE decoder
runs in fp16 and only when that overflows (inf/NaN pixels) is the call repeated in fp32.
"""

from __future__ import annotations

from typing import Any


def use_channels_last(pipeline: Any) -> None:
    """NHWC convolutions: faster on tensor cores, same numbers up to kernel choice."""
    import torch

    for name in ("unet", "vae"):
        module = getattr(pipeline, name, None)
        if module is not None:
            module.to(memory_format=torch.channels_last)


class OverflowSafeDecoder:
    """Replaces a half-precision ``Decoder.forward``: repeats a non-finite decode in fp32."""

    def __init__(self, decoder: Any) -> None:
        self.decoder = decoder
        self.upcasts = 0

    def __call__(self, sample: Any, *args: Any, **kwargs: Any) -> Any:
        import torch

        forward = type(self.decoder).forward
        output = forward(self.decoder, sample, *args, **kwargs)
        if output.dtype not in (torch.float16, torch.bfloat16) or bool(
            torch.isfinite(output).all()
        ):
            return output
        half = output.dtype
        self.upcasts += 1
        self.decoder.to(torch.float32)
        try:
            upcast = [a.float() if isinstance(a, torch.Tensor) else a for a in args]
            full = forward(self.decoder, sample.float(), *upcast, **kwargs)
        finally:
            self.decoder.to(half)
        return full.to(half)


def guard_decoder(pipeline: Any) -> OverflowSafeDecoder:
    decoder = pipeline.vae.decoder
    guard = OverflowSafeDecoder(decoder)
    decoder.forward = guard
    return guard
