"""A folder of images from other tools with the edge cases of issue 24 (no tests here).

Eight AUTOMATIC1111 PNGs, one ComfyUI PNG whose seed is 2^64 - 1, and one PNG whose text chunk
is damaged (its CRC no longer matches).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, PngImagePlugin

BIG_SEED = 2**64 - 1


@dataclass(frozen=True)
class ImportFolder:
    folder: Path
    big_seed: Path
    damaged: Path
    normal: list[Path]


def png_with_text(chunks: dict[str, str], size: tuple[int, int] = (64, 64), tint: int = 0) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", size, (tint % 256, 90, 160)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def a1111_text(prompt: str, seed: int, model: str = "v2-1_512-ema-pruned") -> str:
    return (
        f"{prompt}\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
        f"Seed: {seed}, Size: 512x512, Model: {model}"
    )


def comfyui_graph(seed: int, checkpoint: str = "v2-1_768-ema-pruned.safetensors") -> str:
    graph = {
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed,
                "steps": 20,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 768, "height": 768}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "fog", "clip": ["4", 1]}},
    }
    return json.dumps(graph)


def damage_text_chunk(data: bytes) -> bytes:
    """Flip one byte inside the first tEXt chunk's data: its CRC no longer matches."""
    damaged = bytearray(data)
    at = damaged.find(b"tEXt")
    damaged[at + 10] ^= 0xFF
    return bytes(damaged)


def make_import_folder(root: Path) -> ImportFolder:
    folder = root / "from-other-tools"
    folder.mkdir(parents=True)
    normal = []
    for number in range(8):
        path = folder / f"a1111-{number}.png"
        path.write_bytes(
            png_with_text(
                {"parameters": a1111_text(f"a red boat {number}", number)}, tint=number * 20
            )
        )
        normal.append(path)
    big = folder / "comfyui-big-seed.png"
    big.write_bytes(png_with_text({"prompt": comfyui_graph(BIG_SEED)}, tint=200))
    damaged = folder / "damaged-chunk.png"
    damaged.write_bytes(
        damage_text_chunk(png_with_text({"parameters": a1111_text("broken", 9)}, tint=220))
    )
    return ImportFolder(folder, big, damaged, normal)
