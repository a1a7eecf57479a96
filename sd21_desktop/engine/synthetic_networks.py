"""Random LoRA and textual-inversion files for tests and benchmarks (no real ones exist here).

A LoRA is made the way trainers make one: peft's ``inject_adapter_in_model`` puts LoRA layers
on a copy of the UNet's attention projections and the text encoder's attention, with random
(non-zero) weights; the layers are then written in diffusers' format
(``pytorch_lora_weights.safetensors`` keys ``unet.…lora_A.weight``) or in kohya's
(``lora_unet_…lora_down.weight``, ``lora_te_text_model_…``, with ``.alpha``), the two formats
LoRA files come in. Embeddings are written in AUTOMATIC1111's ``.pt`` and ``.safetensors``
layouts and diffusers' ``learned_embeds`` layout.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

LoraFormat = Literal["diffusers", "kohya"]
EmbeddingFormat = Literal["a1111_pt", "a1111_safetensors", "diffusers"]
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def lora_layers(
    unet: Any, text_encoder: Any | None, rank: int = 4, seed: int = 0, scale: float = 0.5
) -> dict[str, dict[str, Any]]:
    """Random LoRA layers (peft naming) for copies of ``unet`` and ``text_encoder``."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

    torch.manual_seed(seed)
    layers: dict[str, dict[str, Any]] = {}
    for component, model, targets in (
        ("unet", unet, UNET_TARGETS),
        ("text_encoder", text_encoder, TEXT_TARGETS),
    ):
        if model is None:
            continue
        config = LoraConfig(
            r=rank, lora_alpha=rank, target_modules=targets, init_lora_weights=False
        )
        adapted = inject_adapter_in_model(config, copy.deepcopy(model), adapter_name="made")
        state = get_peft_model_state_dict(adapted, adapter_name="made")
        layers[component] = {k: (v * scale).contiguous() for k, v in state.items()}
    return layers


def _kohya(layers: dict[str, dict[str, Any]], rank: int) -> dict[str, Any]:
    import torch

    prefixes = {"unet": "lora_unet_", "text_encoder": "lora_te_text_model_"}
    state: dict[str, Any] = {}
    for component, weights in layers.items():
        for key, value in weights.items():
            module, part = key.rsplit(".lora_", 1)
            name = prefixes[component] + module.removeprefix("text_model.").replace(".", "_")
            state[f"{name}.lora_{'down' if part.startswith('A') else 'up'}.weight"] = value
            state[f"{name}.alpha"] = torch.tensor(float(rank))
    return state


def save_lora(
    path: Path,
    layers: dict[str, dict[str, Any]],
    file_format: LoraFormat = "diffusers",
    rank: int = 4,
) -> Path:
    """Write ``layers`` (from :func:`lora_layers`) as one ``.safetensors`` file."""
    from safetensors.torch import save_file

    if file_format == "kohya":
        state = _kohya(layers, rank)
    else:
        state = {f"{c}.{k}": v for c, weights in layers.items() for k, v in weights.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return path


def random_vectors(count: int, width: int, seed: int = 0) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, width, generator=generator) * 0.5


def save_embedding(
    path: Path, vectors: Any, file_format: EmbeddingFormat = "a1111_safetensors"
) -> Path:
    """Write ``vectors`` (count, width) in one of the embedding layouts."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    vectors = vectors.contiguous()
    if file_format == "a1111_pt":
        torch.save(
            {
                "string_to_token": {"*": 265},
                "string_to_param": {"*": vectors},
                "name": path.stem,
                "step": 1000,
            },
            str(path),
        )
    elif file_format == "a1111_safetensors":
        save_file({"emb_params": vectors}, str(path))
    elif path.suffix == ".bin":
        torch.save({f"<{path.parent.name}>": vectors}, str(path))
    else:
        save_file({f"<{path.parent.name}>": vectors}, str(path))
    return path
