"""A hub model's copy in the standard Hugging Face cache, read and written without network.

The layout is huggingface_hub's own: ``models--owner--name/blobs/<etag>`` holds the bytes,
``snapshots/<commit>/<path>`` links to them, ``refs/main`` names the commit and
``trees/<commit>.json`` (format 1) lists every file of that commit with its size. A model is
*installed* when that listing names every file an SD2 pipeline needs and each is there at its full
size; *partial* when some bytes are there (finished files, ``blobs/<etag>.incomplete`` parts).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sd21_desktop.engine.models import HUB_ALLOW_PATTERNS, cached_snapshot

REVISION = "main"
ModelState = Literal["installed", "partial", "missing"]


def human_size(count: float) -> str:
    """Decimal units, as disks and the hub count them (5.2 GB for SD 2.1)."""
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{int(count)} B" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"  # pragma: no cover - the loop always returns


def cache_root(cache_dir: str | Path | None = None) -> Path:
    from huggingface_hub import constants

    return Path(cache_dir if cache_dir is not None else constants.HF_HUB_CACHE).expanduser()


def storage_folder(repo_id: str, cache_dir: str | Path | None = None) -> Path:
    return cache_root(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def _read_tree(storage: Path, commit: str) -> dict[str, dict[str, Any]] | None:
    """The cached tree listing (huggingface_hub's ``trees/<commit>.json``, format 1)."""
    try:
        data = json.loads((storage / "trees" / f"{commit}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format_version") != 1:
        return None
    files = data.get("files")
    return files if isinstance(files, dict) else None


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def wanted(paths: list[str], patterns: tuple[str, ...] = HUB_ALLOW_PATTERNS) -> list[str]:
    """The repo files an SD2 pipeline needs (see ``HUB_ALLOW_PATTERNS``), or those matching
    ``patterns`` (another kind of model, e.g. a ControlNet)."""
    from huggingface_hub.utils import filter_repo_objects

    return list(filter_repo_objects(paths, allow_patterns=list(patterns)))


@dataclass(frozen=True)
class ModelStatus:
    repo_id: str
    state: ModelState
    bytes_on_disk: int
    total_bytes: int | None
    """The size of the complete model when the cache knows it (after a download started)."""
    path: Path | None
    """The snapshot folder when installed."""


def _bytes_on_disk(storage: Path) -> int:
    """Blobs and partial files, plus files kept in snapshots without links (Windows)."""
    total = 0
    for part in ("blobs", "snapshots"):
        for root, _dirs, files in os.walk(storage / part):
            for name in files:
                path = Path(root) / name
                if not path.is_symlink():
                    try:
                        total += path.stat().st_size
                    except OSError:
                        continue
    return total


def _commit(storage: Path) -> str | None:
    try:
        return (storage / "refs" / REVISION).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _complete_by_tree(storage: Path, commit: str) -> tuple[bool, int] | None:
    """(every wanted file is there at its size, the wanted total) from the tree listing."""
    tree = _read_tree(storage, commit)
    if tree is None:
        return None
    snapshot = storage / "snapshots" / commit
    complete, total = True, 0
    for name in wanted(list(tree)):
        size = int(tree[name].get("size", -1))
        total += size
        try:
            complete = complete and (snapshot / name).stat().st_size == size
        except OSError:
            complete = False
    return complete, total


def snapshot_complete(folder: Path) -> bool:
    """False when the tree listing of this snapshot says a wanted file is missing or has
    another size (a truncated file); True when complete or when there is no listing."""
    result = _complete_by_tree(folder.parent.parent, folder.name)
    return result is None or result[0]


def model_status(repo_id: str, cache_dir: str | Path | None = None) -> ModelStatus:
    """Installed, partial or missing, and the bytes it takes, read from the cache alone."""
    storage = storage_folder(repo_id, cache_dir)
    on_disk = _bytes_on_disk(storage) if storage.is_dir() else 0
    commit = _commit(storage)
    by_tree = _complete_by_tree(storage, commit) if commit else None
    total = by_tree[1] if by_tree else None
    if by_tree is not None:
        installed = by_tree[0]
        path = storage / "snapshots" / str(commit) if installed else None
    else:  # a cache written without a tree listing (older tools, a copied folder)
        path = cached_snapshot(repo_id) if on_disk else None
        installed = path is not None
    if installed:
        return ModelStatus(repo_id, "installed", on_disk, total or on_disk, path)
    return ModelStatus(repo_id, "partial" if on_disk else "missing", on_disk, total, None)


def delete_model(repo_id: str, cache_dir: str | Path | None = None) -> int:
    """Remove a model's whole cache folder (every revision); returns the bytes freed."""
    storage = storage_folder(repo_id, cache_dir)
    if not storage.is_dir():
        return 0
    freed = _bytes_on_disk(storage)
    shutil.rmtree(storage)
    return freed


def write_ref(storage: Path, commit: str) -> None:
    _write_text_atomic(storage / "refs" / REVISION, commit)


def write_tree(storage: Path, commit: str, files: dict[str, dict[str, Any]]) -> None:
    """The tree listing, in huggingface_hub's format, so it and we agree on what is complete."""
    data = {"format_version": 1, "files": {name: files[name] for name in sorted(files)}}
    _write_text_atomic(storage / "trees" / f"{commit}.json", json.dumps(data, indent=1))


def link_into_snapshot(storage: Path, commit: str, name: str, blob: Path) -> Path:
    """``snapshots/<commit>/<name>`` → the blob, by a relative link as huggingface_hub makes
    it; where links are not allowed (Windows without developer mode) a copy."""
    pointer = storage / "snapshots" / commit / name
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        pointer.unlink()
    try:
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    except OSError:
        shutil.copyfile(blob, pointer)
    return pointer


def known_model_status(repo_id: str, cache_dir: str | Path | None = None) -> ModelStatus:
    """:func:`model_status`, where a complete copy under a legacy id or another source (an old
    ``stabilityai/…`` download) also counts as installed: the loader uses it by itself."""
    status = model_status(repo_id, cache_dir)
    if status.state == "installed" or cache_dir is not None:
        return status
    from sd21_desktop.engine.models import cached_alternate

    alternate = cached_alternate(repo_id)
    if alternate is None:
        return status
    size = _bytes_on_disk(alternate.parent.parent)
    return ModelStatus(repo_id, "installed", size, size, alternate)
