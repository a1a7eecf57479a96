"""Random-weight ControlNets for tests and benchmarks, shaped by a UNet (diffusers' ``from_unet``).

A real ControlNet starts with its "zero convolutions" at zero, so an untrained one changes
nothing; here they get random weights too (seeded), so a control image visibly steers the result
and a parity test compares something.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def build_controlnet(unet: Any, seed: int = 0, cross_attention_dim: int | None = None) -> Any:
    """A ControlNet with ``unet``'s encoder architecture (its weights copied, like diffusers'
    ``from_unet``) and random zero convolutions; ``cross_attention_dim`` makes a misfit one."""
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    controlnet = ControlNetModel.from_unet(unet)
    if cross_attention_dim is not None:
        config = {**controlnet.config, "cross_attention_dim": cross_attention_dim}
        controlnet = ControlNetModel.from_config(config)
    with torch.no_grad():
        for parameter in controlnet.parameters():
            if not parameter.any():  # the zero convolutions (and zero biases)
                parameter.normal_(std=0.05)
    return controlnet.eval()


def save_synthetic_controlnet(
    folder: str | Path,
    model_folder: str | Path,
    seed: int = 0,
    cross_attention_dim: int | None = None,
) -> Path:
    """A random-weight ControlNet for the diffusers model in ``model_folder``, saved as a
    diffusers ControlNet folder (config.json + safetensors)."""
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(str(model_folder), subfolder="unet")
    folder = Path(folder)
    build_controlnet(unet, seed, cross_attention_dim).save_pretrained(
        str(folder), safe_serialization=True
    )
    return folder
