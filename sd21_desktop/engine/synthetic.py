"""SD2-architecture pipelines with random weights, for tests and benchmarks.

No machine here can download real weights, so tests build *tiny* pipelines that use the same
component classes as Stable Diffusion 2.1 (UNet2DConditionModel with linear projection and
attention upcast, AutoencoderKL with an 8x scale factor, CLIPTextModel, the real CLIP BPE
tokenizer, a v-prediction DDIM scheduler config), and benchmarks build the *full-size* SD2.1
architecture from the published configs in ``resources/model_configs``: the same compute as the
real model, random weights.

``mode="inpaint"`` builds the SD2 inpainting architecture instead: a 9-channel UNet (latents +
mask + masked-image latents) in a ``StableDiffusionInpaintPipeline`` with the scheduler config of
``stable-diffusion-2-inpainting`` (PNDM, epsilon), whatever the flavour. Later modes extend
:data:`UNET_IN_CHANNELS` (depth 5, x4 upscaler 7).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from sd21_desktop.paths import resources_dir

Size = Literal["tiny", "full"]
Flavour = Literal["v", "base"]
UNET_IN_CHANNELS = {"txt2img": 4, "inpaint": 9, "depth": 5, "upscale": 7}
TINY_IMAGE_SIZE = 64


PIPELINE_CLASSES = {"inpaint": "StableDiffusionInpaintPipeline"}
"""The diffusers pipeline class of a mode's model; any other mode: StableDiffusionPipeline."""


def _config_name(flavour: Flavour, mode: str = "txt2img") -> str:
    if mode == "inpaint":
        return "stable-diffusion-2-inpainting"
    return "stable-diffusion-2-1" if flavour == "v" else "stable-diffusion-2-1-base"


def _config_dir(flavour: Flavour, mode: str = "txt2img") -> Path:
    return resources_dir() / "model_configs" / _config_name(flavour, mode)


def _load_config(
    flavour: Flavour, component: str, file: str = "config.json", mode: str = "txt2img"
) -> dict[str, Any]:
    text = (_config_dir(flavour, mode) / component / file).read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def build_components(
    size: Size = "tiny", flavour: Flavour = "v", mode: str = "txt2img", seed: int = 0
) -> dict[str, Any]:
    """The components of an SD2 pipeline of ``mode``, deterministic for a given ``seed``."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    in_channels = UNET_IN_CHANNELS[mode]
    v_model = flavour == "v" and mode != "inpaint"
    if size == "full":
        unet_config = _load_config(flavour, "unet", mode=mode)
        unet_config["in_channels"] = in_channels
        unet = UNet2DConditionModel.from_config(unet_config)
        vae = AutoencoderKL.from_config(_load_config(flavour, "vae", mode=mode))
        text_config = CLIPTextConfig(**_load_config(flavour, "text_encoder", mode=mode))
    else:
        unet = UNet2DConditionModel(
            sample_size=TINY_IMAGE_SIZE // 8,
            in_channels=in_channels,
            out_channels=4,
            layers_per_block=1,
            block_out_channels=(32, 64),
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            upcast_attention=v_model,
            norm_num_groups=16,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 8, 16, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=4,
            sample_size=TINY_IMAGE_SIZE,
        )
        text_config = CLIPTextConfig(
            vocab_size=49408,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            hidden_act="gelu",
            projection_dim=32,
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=0,
        )
    text_encoder = CLIPTextModel(text_config)
    tokenizer = CLIPTokenizer.from_pretrained(str(resources_dir() / "clip_tokenizer"))
    scheduler_config = _load_config(flavour, "scheduler", "scheduler_config.json", mode=mode)
    scheduler_class = DDIMScheduler if v_model else PNDMScheduler
    scheduler = scheduler_class.from_config(scheduler_config)
    for module in (unet, vae, text_encoder):
        module.eval()
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
    }


def build_pipeline(
    size: Size = "tiny", flavour: Flavour = "v", mode: str = "txt2img", seed: int = 0
) -> Any:
    import diffusers

    pipeline_class = getattr(diffusers, PIPELINE_CLASSES.get(mode, "StableDiffusionPipeline"))
    return pipeline_class(**build_components(size, flavour, mode, seed))


def save_synthetic_model(
    folder: str | Path,
    size: Size = "tiny",
    flavour: Flavour = "v",
    mode: str = "txt2img",
    seed: int = 0,
) -> Path:
    """Write a random-weight SD2 pipeline as a diffusers folder (safetensors) and return it.

    ``mode="inpaint"`` writes a 9-channel ``StableDiffusionInpaintPipeline`` (see the module
    docstring).
    """
    folder = Path(folder)
    build_pipeline(size, flavour, mode, seed).save_pretrained(str(folder), safe_serialization=True)
    return folder
