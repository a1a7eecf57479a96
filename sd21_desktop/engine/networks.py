"""The embeddings and LoRA folders: listing, hashing and finding files (no torch).

Files are found by their name (the file name without its extension, as AUTOMATIC1111 names them;
a diffusers ``learned_embeds.*`` file takes its folder's name) or by their sha256, so an image
re-runs with a renamed file. The folders are read on every lookup, so files added while the app
runs are found without a restart; hashes are cached by path, size and modification time.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Kind = Literal["embedding", "lora"]
SUFFIXES: dict[str, tuple[str, ...]] = {
    "embedding": (".safetensors", ".pt", ".bin"),
    "lora": (".safetensors", ".pt", ".bin", ".ckpt"),
}
KIND_LABELS = {"embedding": "embedding", "lora": "LoRA"}
SHORT_HASH = 12
"""AUTOMATIC1111's short hash: the first 12 hex digits of the file's sha256."""
DIFFUSERS_EMBEDDING_STEM = "learned_embeds"


@dataclass(frozen=True)
class NetworkFolders:
    embeddings: Path
    loras: Path

    def folder(self, kind: Kind) -> Path:
        return self.embeddings if kind == "embedding" else self.loras


@dataclass(frozen=True)
class NetworkFile:
    kind: Kind
    name: str
    path: Path
    size: int


def file_name(path: Path) -> str:
    """The name a prompt uses for the file."""
    if path.stem == DIFFUSERS_EMBEDDING_STEM and path.parent.name:
        return path.parent.name
    return path.stem


def list_files(folder: Path, kind: Kind) -> list[NetworkFile]:
    """The files of ``kind`` in ``folder`` and its sub-folders, sorted by name; [] if absent."""
    if not folder.is_dir():
        return []
    found: list[NetworkFile] = []
    for path in folder.rglob("*"):
        if path.suffix.lower() in SUFFIXES[kind] and path.is_file():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            found.append(NetworkFile(kind, file_name(path), path, size))
    return sorted(found, key=lambda item: (item.name.lower(), str(item.path)))


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """The file's sha256 (hex), cached until the file changes."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        if key in _hash_cache:
            return _hash_cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _hash_lock:
        _hash_cache[key] = value
    return value


def short_hash(sha256: str) -> str:
    return sha256[:SHORT_HASH]


def find_by_name(folder: Path, kind: Kind, name: str) -> NetworkFile | None:
    """The file called ``name`` (exact case first, then any case)."""
    files = list_files(folder, kind)
    for match in (lambda f: f.name == name, lambda f: f.name.lower() == name.lower()):
        for item in files:
            if match(item):
                return item
    return None


def find_by_hash(folder: Path, kind: Kind, sha256: str, name: str = "") -> NetworkFile | None:
    """The file whose sha256 starts with ``sha256`` (full or short hash).

    The file called ``name`` is hashed first, so the usual case reads one file.
    """
    wanted = sha256.lower()
    files = list_files(folder, kind)
    files.sort(key=lambda item: item.name != name)
    for item in files:
        try:
            if file_sha256(item.path).startswith(wanted):
                return item
        except OSError:
            continue
    return None


def read_tensor_file(path: Path, what: str, refuse: Callable[[str], Exception]) -> Any:
    """The tensors of a ``.safetensors`` file, or of a pickle read with ``weights_only=True``
    (code in it is refused, never run); ``refuse(reason)`` makes the error to raise."""
    import torch

    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # torch, pickle and safetensors each raise their own errors
        lowered = str(error).lower()
        if "weights only load failed" in lowered or "unpickl" in lowered:
            raise refuse("it holds Python objects, not only tensors") from error
        raise refuse(f"it is damaged or not {what} ({type(error).__name__})") from error


def missing_message(kind: Kind, name: str, sha256: str | None, folder: Path) -> str:
    what = KIND_LABELS[kind]
    known = f" (sha256 {short_hash(sha256)})" if sha256 else ""
    return f"The {what} {name!r}{known} is not in {folder}."
