"""Latents → a small RGB preview, cheaply.

A fixed linear map from the four SD latent channels to RGB (the same VAE family as SD 1.x, whose
approximation factors are well known) costs a few microseconds per step, far below 2 % of a
denoising step, and needs no extra model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# rows: latent channels; columns: R, G, B
_LATENT_RGB_FACTORS = np.array(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    dtype=np.float32,
)


def latents_to_rgb(latents: Any, index: int = 0) -> np.ndarray:
    """An ``(h, w, 3)`` uint8 preview of image ``index`` of a latent batch (1/8 of full size)."""
    sample = latents[index].detach().float().cpu().numpy()  # (4, h, w)
    if sample.shape[0] != 4:
        sample = sample[:4]
    rgb = np.tensordot(sample, _LATENT_RGB_FACTORS, axes=([0], [0]))  # (h, w, 3)
    rgb = np.nan_to_num((rgb + 1.0) * 127.5, nan=0.0)
    return np.ascontiguousarray(np.clip(rgb, 0, 255).astype(np.uint8))
