"""Write a diffusers SD2 pipeline as a single-file checkpoint in the original LDM key layout.

The reverse of what ``from_single_file`` reads: ``model.diffusion_model.*`` (the UNet's
``input_blocks`` / ``middle_block`` / ``output_blocks``), ``first_stage_model.*`` (the VAE's
``encoder.down.N.block.M`` …, attention weights as 1x1 convolutions) and
``cond_stage_model.model.*`` (OpenCLIP: ``transformer.resblocks.N`` with packed ``in_proj``
weights, ``ln_final``, ``positional_embedding``, plus the 24th block and ``text_projection``
that SD2 does not use), with the diffusion schedule buffers (``betas``, ``alphas_cumprod``) a
real checkpoint carries. The block indices follow the UNet's and VAE's configs, so the tiny test
pipelines convert as well as the full-size architecture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

UNET_TOP = {
    "time_embedding.linear_1.": "time_embed.0.",
    "time_embedding.linear_2.": "time_embed.2.",
    "conv_in.": "input_blocks.0.0.",
    "conv_norm_out.": "out.0.",
    "conv_out.": "out.2.",
}
RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}


def unet_prefixes(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(diffusers prefix, LDM prefix) for every block of the UNet described by ``config``."""
    layers = int(config["layers_per_block"])
    down_types, up_types = config["down_block_types"], config["up_block_types"]
    levels = len(down_types)
    pairs: list[tuple[str, str]] = []
    for i in range(levels):
        for j in range(layers):
            index = 1 + i * (layers + 1) + j
            pairs.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{index}.0."))
            if "CrossAttn" in down_types[i]:
                pairs.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{index}.1."))
        if i < levels - 1:
            index = (i + 1) * (layers + 1)
            pairs.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{index}.0.op."))
        for j in range(layers + 1):
            index = i * (layers + 1) + j
            pairs.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{index}.0."))
            if "CrossAttn" in up_types[i]:
                pairs.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{index}.1."))
        if i < levels - 1:
            index = i * (layers + 1) + layers
            slot = 2 if "CrossAttn" in up_types[i] else 1
            pairs.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{index}.{slot}."))
    pairs.append(("mid_block.attentions.0.", "middle_block.1."))
    pairs += [(f"mid_block.resnets.{j}.", f"middle_block.{2 * j}.") for j in range(2)]
    return pairs


def _replace_prefix(key: str, pairs: list[tuple[str, str]] | dict[str, str]) -> str:
    for old, new in pairs.items() if isinstance(pairs, dict) else pairs:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def convert_unet(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    pairs = unet_prefixes(config)
    converted = {}
    for key, value in state.items():
        new = _replace_prefix(key, UNET_TOP)
        if "resnets" in key:
            for hf_part, ldm_part in RESNET_PARTS.items():
                new = new.replace(f".{hf_part}.", f".{ldm_part}.")
        new = _replace_prefix(new, pairs)
        converted["model.diffusion_model." + new] = value
    return converted


def vae_prefixes(config: dict[str, Any]) -> list[tuple[str, str]]:
    levels = len(config["block_out_channels"])
    layers = int(config["layers_per_block"])
    pairs: list[tuple[str, str]] = []
    for i in range(levels):
        for j in range(layers):
            pairs.append((f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}."))
        if i < levels - 1:
            pairs.append(
                (f"encoder.down_blocks.{i}.downsamplers.0.", f"encoder.down.{i}.downsample.")
            )
            pairs.append(
                (f"decoder.up_blocks.{i}.upsamplers.0.", f"decoder.up.{levels - 1 - i}.upsample.")
            )
        for j in range(layers + 1):
            pairs.append(
                (f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{levels - 1 - i}.block.{j}.")
            )
    for part in ("encoder", "decoder"):
        pairs.append((f"{part}.mid_block.attentions.0.", f"{part}.mid.attn_1."))
        for j in range(2):
            pairs.append((f"{part}.mid_block.resnets.{j}.", f"{part}.mid.block_{j + 1}."))
        pairs.append((f"{part}.conv_norm_out.", f"{part}.norm_out."))
    return pairs


VAE_ATTENTION = {
    "group_norm.": "norm.",
    "to_q.": "q.",
    "to_k.": "k.",
    "to_v.": "v.",
    "to_out.0.": "proj_out.",
}


def convert_vae(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    pairs = vae_prefixes(config)
    converted = {}
    for key, value in state.items():
        new = _replace_prefix(key, pairs).replace("conv_shortcut", "nin_shortcut")
        if ".mid.attn_1." in new:
            head, tail = new.split(".mid.attn_1.")
            tail = _replace_prefix(tail, VAE_ATTENTION)
            new = f"{head}.mid.attn_1.{tail}"
            if tail.split(".")[0] in ("q", "k", "v", "proj_out") and tail.endswith("weight"):
                value = value.reshape(*value.shape, 1, 1)  # LDM: 1x1 convolutions
        converted["first_stage_model." + new] = value
    return converted


OPENCLIP_TOP = {
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}
OPENCLIP_PARTS = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}


def convert_text_encoder(state: dict[str, Any], extra_layer: bool = True) -> dict[str, Any]:
    """OpenCLIP keys; q/k/v packed into ``in_proj``. With ``extra_layer`` also the 24th block
    and the ``text_projection`` a real SD2 checkpoint has (SD2 uses the penultimate layer, so
    the loader ignores them)."""
    import torch

    prefix = "cond_stage_model.model."
    converted: dict[str, Any] = {}
    packed: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        if not key.startswith("text_model."):  # transformers 5 names them without the prefix
            key = "text_model." + key
        if key in OPENCLIP_TOP:
            converted[prefix + OPENCLIP_TOP[key]] = value
            continue
        if not key.startswith("text_model.encoder.layers."):
            continue  # position_ids and other buffers
        rest = key[len("text_model.encoder.layers.") :]
        index, name = rest.split(".", 1)
        block = f"{prefix}transformer.resblocks.{index}."
        for proj in ("q_proj", "k_proj", "v_proj"):
            if name.startswith(f"self_attn.{proj}."):
                kind = name.rsplit(".", 1)[1]
                packed.setdefault(f"{block}attn.in_proj_{kind}", {})[proj] = value
                break
        else:
            for hf_part, ldm_part in OPENCLIP_PARTS.items():
                name = name.replace(hf_part, ldm_part)
            converted[block + name] = value
    for key, parts in packed.items():
        converted[key] = torch.cat([parts["q_proj"], parts["k_proj"], parts["v_proj"]])
    if extra_layer:
        blocks = [k.split("resblocks.")[1] for k in converted if "resblocks." in k]
        last = max(int(rest.split(".")[0]) for rest in blocks)
        for key in [k for k in converted if f"resblocks.{last}." in k]:
            converted[key.replace(f"resblocks.{last}.", f"resblocks.{last + 1}.")] = converted[
                key
            ].clone()
        width = converted[prefix + "ln_final.weight"].shape[0]
        converted[prefix + "text_projection"] = torch.zeros(width, width)
    return converted


def schedule_buffers(steps: int = 1000) -> dict[str, Any]:
    import torch

    betas = torch.linspace(0.00085**0.5, 0.012**0.5, steps, dtype=torch.float64) ** 2
    return {"betas": betas.float(), "alphas_cumprod": torch.cumprod(1 - betas, 0).float()}


def ldm_state_dict(pipeline: Any, dtype: Any = None) -> dict[str, Any]:
    """The whole pipeline as one LDM state dict (``dtype`` casts the weights, e.g. fp16)."""
    state = {
        **convert_unet(pipeline.unet.state_dict(), dict(pipeline.unet.config)),
        **convert_vae(pipeline.vae.state_dict(), dict(pipeline.vae.config)),
        **convert_text_encoder(pipeline.text_encoder.state_dict()),
        **schedule_buffers(),
    }
    return {
        key: (value.to(dtype) if dtype is not None else value).contiguous()
        for key, value in state.items()
    }


def save_ldm_checkpoint(pipeline: Any, path: Path, dtype: Any = None) -> Path:
    from safetensors.torch import save_file

    save_file(ldm_state_dict(pipeline, dtype), str(path))
    return path
