"""SD2-architecture pipelines with random weights, for tests and benchmarks.

No machine here can download real weights, so tests build *tiny* pipelines that use the same
component classes as Stable Diffusion 2.1 (UNet2DConditionModel with linear projection and
attention upcast, AutoencoderKL with an 8x scale factor, CLIPTextModel, the real CLIP BPE
tokenizer, a v-prediction DDIM scheduler config), and benchmarks build the *full-size* SD2.1
architecture from the published configs in ``resources/model_configs``: the same compute as the
real model, random weights.

Other modes build the other SD2 architectures, whatever the flavour:

* ``mode="inpaint"``: a 9-channel UNet (latents + mask + masked-image latents) in a
  ``StableDiffusionInpaintPipeline`` with the scheduler config of ``stable-diffusion-2-inpainting``
  (PNDM, epsilon).
* ``mode="depth"``: a 5-channel UNet (latents + depth) in a ``StableDiffusionDepth2ImgPipeline``
  with a DPT depth estimator (``DPTForDepthEstimation``) and its ``DPTImageProcessor``. No
  diffusers config of ``stable-diffusion-2-depth`` is available offline, so its values come from
  the LDM config ``v2-midas-inference.yaml``: the SD2-base UNet/VAE/text encoder with 5 input
  channels, epsilon prediction, betas 0.00085-0.012 (the inpainting model's PNDM config has exactly
  these). The tiny estimator is a 2-layer ViT DPT (hidden size 32) reading 32x32 inputs; the full
  size uses transformers' default DPT-hybrid config (the real one is DPT-hybrid MiDaS; its exact
  config is not reproduced here).
* ``mode="upscale"``: the x4 upscaler, a ``StableDiffusionUpscalePipeline``: a 7-channel UNet
  (latents + the low-resolution RGB image) with ``num_class_embeds`` for the noise level, a VAE
  with 3 blocks (scale factor 4) and ``scaling_factor`` 0.08333, the DDIM v-prediction scheduler
  and DDPM ``low_res_scheduler`` of ``resources/model_configs/stable-diffusion-x4-upscaler``, and
  ``max_noise_level`` 350.
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


UPSCALE_SCALING_FACTOR = 0.08333
MAX_NOISE_LEVEL = 350
TINY_DEPTH_INPUT = 32
"""The tiny depth estimator's input side (the real DPT-hybrid reads 384 x 384)."""

PIPELINE_CLASSES = {
    "inpaint": "StableDiffusionInpaintPipeline",
    "depth": "StableDiffusionDepth2ImgPipeline",
    "upscale": "StableDiffusionUpscalePipeline",
}
"""The diffusers pipeline class of a mode's model; any other mode: StableDiffusionPipeline."""


def _config_name(flavour: Flavour, mode: str = "txt2img") -> str:
    if mode == "inpaint":
        return "stable-diffusion-2-inpainting"
    if mode == "upscale":
        return "stable-diffusion-x4-upscaler"
    if mode == "depth":  # the SD2-base architecture (v2-midas-inference.yaml), 5 channels
        return "stable-diffusion-2-1-base"
    return "stable-diffusion-2-1" if flavour == "v" else "stable-diffusion-2-1-base"


def _config_dir(flavour: Flavour, mode: str = "txt2img") -> Path:
    return resources_dir() / "model_configs" / _config_name(flavour, mode)


def _load_config(
    flavour: Flavour, component: str, file: str = "config.json", mode: str = "txt2img"
) -> dict[str, Any]:
    text = (_config_dir(flavour, mode) / component / file).read_text(encoding="utf-8")
    return {k: v for k, v in json.loads(text).items() if not k.startswith("_")}


def _tiny_text_encoder() -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
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
    )


def _tiny_unet(in_channels: int, v_model: bool) -> Any:
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
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


def _tiny_vae(blocks: int = 4, scaling_factor: float | None = None) -> Any:
    from diffusers import AutoencoderKL

    extra: dict[str, Any] = {} if scaling_factor is None else {"scaling_factor": scaling_factor}
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        block_out_channels=(8, 8, 16, 16)[-blocks:],
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=TINY_IMAGE_SIZE,
        **extra,
    )


def _tiny_upscale_unet() -> Any:
    """The x4 upscaler's UNet shape, shrunk: 7 input channels, noise level as class labels, no
    self-attention in the high-resolution blocks (``only_cross_attention``), as the real one."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=TINY_IMAGE_SIZE // 4,
        in_channels=UNET_IN_CHANNELS["upscale"],
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        only_cross_attention=(True, False),
        cross_attention_dim=32,
        attention_head_dim=8,
        use_linear_projection=True,
        num_class_embeds=1000,
        norm_num_groups=16,
    )


def build_depth_estimator(size: Size = "tiny") -> tuple[Any, Any]:
    """A random-weight ``DPTForDepthEstimation`` and the ``DPTImageProcessor`` that feeds it."""
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    if size == "full":
        config = DPTConfig(is_hybrid=True)
        side = 384
    else:
        config = DPTConfig(
            image_size=TINY_DEPTH_INPUT,
            patch_size=8,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            backbone_out_indices=(0, 1),
            neck_hidden_sizes=(16, 32),
            reassemble_factors=(2, 1),
            fusion_hidden_size=16,
            use_auxiliary_head=False,
            initializer_range=0.2,
        )
        side = TINY_DEPTH_INPUT
    estimator = DPTForDepthEstimation(config)
    if size == "tiny":
        import torch

        # The head ends in a ReLU: lift it so random weights give a depth map with some range
        # instead of mostly zeros.
        last_conv: Any = estimator.head.head[-2]
        with torch.no_grad():
            last_conv.bias.fill_(60.0)
    processor = DPTImageProcessor(
        do_resize=True,
        size={"height": side, "width": side},
        keep_aspect_ratio=False,
        ensure_multiple_of=1,
        do_rescale=True,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return estimator.eval(), processor


def build_components(
    size: Size = "tiny", flavour: Flavour = "v", mode: str = "txt2img", seed: int = 0
) -> dict[str, Any]:
    """The components of an SD2 pipeline of ``mode``, deterministic for a given ``seed``."""
    # Longer than 60 lines for a reason: one declarative list of the components, in the order
    # a pipeline takes them; split up it would only scatter their configs.
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        DDPMScheduler,
        PNDMScheduler,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    in_channels = UNET_IN_CHANNELS[mode]
    v_model = (flavour == "v" and mode in ("txt2img", "img2img")) or mode == "upscale"
    if size == "full":
        unet_config = _load_config(flavour, "unet", mode=mode)
        unet_config["in_channels"] = in_channels
        unet = UNet2DConditionModel.from_config(unet_config)
        vae = AutoencoderKL.from_config(_load_config(flavour, "vae", mode=mode))
        text_encoder = CLIPTextModel(
            CLIPTextConfig(**_load_config(flavour, "text_encoder", mode=mode))
        )
    elif mode == "upscale":
        unet = _tiny_upscale_unet()
        vae = _tiny_vae(blocks=3, scaling_factor=UPSCALE_SCALING_FACTOR)
        text_encoder = _tiny_text_encoder()
    else:
        unet = _tiny_unet(in_channels, v_model)
        vae = _tiny_vae()
        text_encoder = _tiny_text_encoder()
    tokenizer = CLIPTokenizer.from_pretrained(str(resources_dir() / "clip_tokenizer"))
    scheduler_mode = "inpaint" if mode == "depth" else mode  # PNDM, epsilon, 0.00085-0.012
    scheduler_config = _load_config(
        flavour, "scheduler", "scheduler_config.json", mode=scheduler_mode
    )
    scheduler_class = DDIMScheduler if v_model else PNDMScheduler
    scheduler = scheduler_class.from_config(scheduler_config)
    for module in (unet, vae, text_encoder):
        module.eval()
    components: dict[str, Any] = {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }
    if mode == "depth":
        estimator, processor = build_depth_estimator(size)
        components.update(depth_estimator=estimator, feature_extractor=processor)
    elif mode == "upscale":
        low_res = _load_config(flavour, "low_res_scheduler", "scheduler_config.json", mode=mode)
        components.update(
            low_res_scheduler=DDPMScheduler.from_config(low_res),
            safety_checker=None,
            feature_extractor=None,
            watermarker=None,
            max_noise_level=MAX_NOISE_LEVEL,
        )
    else:
        components.update(
            safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
    return components


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

    ``mode`` ``"inpaint"``, ``"depth"`` or ``"upscale"`` writes that model's pipeline class (see
    the module docstring).
    """
    folder = Path(folder)
    build_pipeline(size, flavour, mode, seed).save_pretrained(str(folder), safe_serialization=True)
    return folder
