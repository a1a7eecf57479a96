"""Prompt conditioning and LoRA switching next to one denoising step, full-size SD2.1 (CPU).

Builds the full-size SD2.1 architecture with random weights (``engine/synthetic.py``), writes two
1024-wide embeddings (4 and 8 vectors) and a rank-32 LoRA on every attention projection of the
UNet and text encoder (kohya format, the common one), then times, alternating so a shared CPU
slows all of them alike:

* conditioning: a ~300-token weighted prompt using both embeddings, and its negative prompt,
  through :func:`~sd21_desktop.engine.prompt_encoding.encode_conditioning`;
* LoRA switch: read the file, check it, ``load_lora_weights`` + ``set_adapters``
  (:func:`~sd21_desktop.engine.lora.apply_loras`), and the unload back to the base model;
* diffusers' own ``encode_prompt`` of the same prompts (which it cuts to 75 tokens): the
  reference for what conditioning costs without chunks;
* one denoising step: the UNet on a 768x768 latent with classifier-free guidance (batch 2) and
  that conditioning (5 chunks = 385 tokens of context).

Targets: conditioning under 5 % of a step; LoRA switch (load + apply) under 2 s.

    python bench/conditioning.py [--repeats 2] [--size 768]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROMPT_PARTS = [
    "masterpiece, best quality, (detailed watercolour painting:1.2) of a red fox",
    "standing in a snowy birch forest at dawn, mystyle, soft (golden light:1.1)",
    "[muted colours], (fine ink lines:0.9), paper texture, lensflare",
]


def long_prompt(tokens_wanted: int, tokenizer: Any, embeddings: Any) -> str:
    """Weighted phrases with both embeddings, until the engine counts ``tokens_wanted``."""
    from sd21_desktop.engine.prompt_encoding import chunk_prompts

    parts: list[str] = ["inkstyle"]
    index = 0
    while chunk_prompts(tokenizer, [", ".join(parts)], embeddings)[0].token_count < tokens_wanted:
        parts.insert(-1, PROMPT_PARTS[index % len(PROMPT_PARTS)])
        index += 1
    return ", ".join(parts)


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--size", type=int, default=768)
    args = parser.parse_args(argv)

    import torch

    from sd21_desktop.engine.embeddings import load_embedding
    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.lora import ActiveLora, apply_loras
    from sd21_desktop.engine.networks import file_sha256
    from sd21_desktop.engine.prompt_encoding import chunk_prompts, encode_conditioning
    from sd21_desktop.engine.synthetic import build_pipeline
    from sd21_desktop.engine.synthetic_networks import (
        lora_layers,
        random_vectors,
        save_embedding,
        save_lora,
    )

    quiet_libraries()
    torch.set_grad_enabled(False)
    print("building the full-size SD2.1 architecture (random weights)…", file=sys.stderr)
    pipe = build_pipeline("full")
    folder = Path(tempfile.mkdtemp(prefix="sd21-bench-"))
    width = pipe.text_encoder.get_input_embeddings().weight.shape[1]
    embeddings = {
        name: load_embedding(
            save_embedding(folder / f"{name}.safetensors", random_vectors(count, width)),
            name,
            width,
        )
        for name, count in (("mystyle", 4), ("inkstyle", 8))
    }
    print("making a rank-32 LoRA…", file=sys.stderr)
    layers = lora_layers(pipe.unet, pipe.text_encoder, rank=32)
    path = save_lora(folder / "ink.safetensors", layers, "kohya", rank=32)
    del layers
    lora = ActiveLora("ink", path, file_sha256(path), 0.8, 0.8)
    prompt = long_prompt(300, pipe.tokenizer, embeddings)
    negative = "lowres, (blurry:1.3), bad anatomy, watermark"
    chunked = chunk_prompts(pipe.tokenizer, [prompt], embeddings)[0]
    conditioning = encode_conditioning(pipe, prompt, negative, embeddings)
    context = torch.cat([conditioning.negative_prompt_embeds, conditioning.prompt_embeds])
    side = args.size // 8
    latents = torch.randn(2, 4, side, side)

    def step() -> None:
        pipe.unet(latents, 500, encoder_hidden_states=context)

    def diffusers_encode() -> None:  # the reference: diffusers' own, 75 tokens at most
        pipe.encode_prompt(prompt, torch.device("cpu"), 1, True, negative)

    encode_s, step_s, load_s, unload_s, reference_s = [], [], [], [], []
    for _ in range(args.repeats):
        step_s.append(timed(step))
        encode_s.append(timed(lambda: encode_conditioning(pipe, prompt, negative, embeddings)))
        reference_s.append(timed(diffusers_encode))
        load_s.append(timed(lambda: apply_loras(pipe, [lora])))
        unload_s.append(timed(lambda: apply_loras(pipe, [])))
    step_t, encode_t = statistics.median(step_s), statistics.median(encode_s)
    load_t, unload_t = statistics.median(load_s), statistics.median(unload_s)
    print(
        f"prompt: {chunked.token_count} tokens in {len(chunked.chunks)} chunks, "
        f"embeddings used: {', '.join(chunked.embeddings_used)}"
    )
    print(f"one denoising step ({args.size}px, CFG batch 2): {step_t:.2f} s")
    verdict = "ok" if encode_t < 0.05 * step_t else "OVER"
    print(f"conditioning (prompt + negative): {encode_t:.3f} s = "
          f"{100 * encode_t / step_t:.1f} % of a step [{verdict}, target < 5 %]")
    verdict = "ok" if load_t < 2.0 else "OVER"
    reference_t = statistics.median(reference_s)
    print(f"diffusers' encode_prompt (same prompts cut to 75 tokens): {reference_t:.3f} s = "
          f"{100 * reference_t / step_t:.1f} % of a step")
    print(f"LoRA switch, load + apply rank 32: {load_t:.2f} s [{verdict}, target < 2 s]; "
          f"unload: {unload_t:.2f} s")
    print("samples (s): step " + " ".join(f"{t:.2f}" for t in step_s)
          + " | encode " + " ".join(f"{t:.3f}" for t in encode_s)
          + " | load " + " ".join(f"{t:.2f}" for t in load_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
