"""``sd21-desktop models``: the embeddings and LoRAs in their folders, with sizes and short
hashes (the first 12 hex digits of the sha256, as AUTOMATIC1111 shows them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from sd21_desktop.engine.networks import NetworkFolders, list_files


def _short_hash(path: Path) -> str:
    from sd21_desktop.engine.networks import file_sha256, short_hash

    try:
        return short_hash(file_sha256(path))
    except OSError as error:
        return f"unreadable ({error.strerror or error})"


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _listing(folders: NetworkFolders) -> list[tuple[str, Path, list[Any]]]:
    return [
        (kind, folders.folder(kind), list_files(folders.folder(kind), kind))  # type: ignore[arg-type]
        for kind in ("embedding", "lora")
    ]


def print_networks(folders: NetworkFolders, stdout: TextIO, as_json: bool) -> None:
    for kind, folder, files in _listing(folders):
        if not as_json:
            print(f"{'Embeddings' if kind == 'embedding' else 'LoRAs'}: {folder}", file=stdout)
            if not files:
                print("  (none)", file=stdout)
        for item in files:
            short = _short_hash(item.path)
            if as_json:
                row = {
                    "id": item.name,
                    "kind": kind,
                    "path": str(item.path),
                    "size": item.size,
                    "short_hash": short,
                }
                print(json.dumps(row), file=stdout)
            else:
                print(f"  {item.name:40} {size_text(item.size):>9}  {short}", file=stdout)
