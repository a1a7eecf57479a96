"""Reading textual-inversion embeddings: AUTOMATIC1111 ``.pt`` (``string_to_param``) and
``.safetensors`` (``emb_params``), and diffusers ``learned_embeds.bin`` / ``.safetensors``.

``.pt`` and ``.bin`` files are read only through ``torch.load(weights_only=True)``: a file that
holds Python objects beyond tensors is refused rather than unpickled. A file whose vectors do not
fit the model's text encoder (768 wide: an SD 1.x embedding; SD 2.x needs 1024) is refused with
a message naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sd21_desktop.engine.networks import read_tensor_file
from sd21_desktop.errors import UserFacingError

SD1_WIDTH, SD2_WIDTH = 768, 1024
_cache: dict[tuple[str, int, int], Any] = {}


@dataclass(frozen=True)
class Embedding:
    name: str
    vectors: Any
    """float32 tensor (count, width)."""
    path: Path

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])


def _refuse(path: Path, reason: str) -> UserFacingError:
    return UserFacingError(
        f"The embedding {path} cannot be used: {reason}.",
        "Remove it from the embeddings folder or replace it with an SD 2.x embedding.",
    )


def _read_tensors(path: Path) -> Any:
    return read_tensor_file(path, "an embedding", lambda reason: _refuse(path, reason))


def _vectors(path: Path, data: Any) -> Any:
    """The one tensor of an embedding file, whichever of the known layouts it has."""
    import torch

    if isinstance(data, dict) and "string_to_param" in data:
        params = data["string_to_param"]
        params = getattr(params, "_parameters", params)
        if not isinstance(params, dict) or len(params) != 1:
            raise _refuse(path, "it holds several embeddings (string_to_param)")
        tensor = next(iter(params.values()))
    elif isinstance(data, dict) and {"clip_g", "clip_l"} <= set(data):
        raise _refuse(path, "it is an SDXL embedding (clip_g/clip_l)")
    elif isinstance(data, dict) and len(data) == 1 and torch.is_tensor(next(iter(data.values()))):
        tensor = next(iter(data.values()))  # emb_params, or diffusers' {token: vector}
    else:
        raise _refuse(path, "it is not a textual-inversion embedding (unknown layout)")
    if not torch.is_tensor(tensor) or tensor.dim() not in (1, 2) or tensor.numel() == 0:
        raise _refuse(path, "its vectors are not a 1-D or 2-D tensor")
    tensor = tensor.detach().to(torch.float32)
    return tensor.unsqueeze(0) if tensor.dim() == 1 else tensor


def load_embedding(path: Path, name: str, width: int) -> Embedding:
    """The embedding in ``path``, checked against the text encoder's ``width``."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    vectors = _cache.get(key)
    if vectors is None:
        vectors = _vectors(path, _read_tensors(path))
        _cache[key] = vectors
    found = int(vectors.shape[1])
    if found != width:
        hint = " (an SD 1.x embedding)" if found == SD1_WIDTH else ""
        raise _refuse(
            path,
            f"its vectors are {found} wide{hint}; this model's text encoder takes {width}-wide "
            "ones",
        )
    if not bool(vectors.isfinite().all()):
        raise _refuse(path, "its vectors hold NaN or infinite values")
    return Embedding(name, vectors, path)


def vector_count(path: Path) -> int | None:
    """How many vectors an embedding file holds (for the token counter); None if unreadable."""
    try:
        return int(_vectors(path, _read_tensors(path)).shape[0])
    except UserFacingError:
        return None
