"""The checkpoint files and diffusers folders the user added to the Models window.

Kept as a small JSON list in the data folder (``local_models.json``); the files themselves stay
where they are. Nothing here imports Qt or torch.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sd21_desktop.engine.models import identify
from sd21_desktop.errors import UserFacingError


@dataclass(frozen=True)
class LocalModel:
    path: str
    kind: str
    """``"file"`` (a .safetensors/.ckpt checkpoint) or ``"folder"`` (diffusers)."""
    size: int
    exists: bool = True


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                continue
    return total


def describe(path: str) -> LocalModel:
    """Check that ``path`` is a model SD21 Desktop reads; raises a message when it is not."""
    candidate = Path(path).expanduser()
    if candidate.name == "model_index.json":
        candidate = candidate.parent
    source = identify(str(candidate))
    if source.kind == "hub":
        raise UserFacingError(
            f"{path} does not exist.", "Choose a .safetensors/.ckpt file or a diffusers folder."
        )
    kind = "file" if source.kind == "single_file" else "folder"
    return LocalModel(source.location, kind, folder_size(Path(source.location)))


class LocalModels:
    """The list, in the order added; duplicates are ignored."""

    def __init__(self, store: Path) -> None:
        self.store = store
        # add/remove read, change and rewrite the list: two at once (files dropped together
        # are checked on pool threads) would lose one of them
        self._lock = threading.Lock()

    def paths(self) -> list[str]:
        try:
            data = json.loads(self.store.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [p for p in data if isinstance(p, str)] if isinstance(data, list) else []

    def _save(self, paths: list[str]) -> None:
        self.store.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.store.with_suffix(".tmp")
        temporary.write_text(json.dumps(paths, indent=1), encoding="utf-8")
        os.replace(temporary, self.store)

    def add(self, path: str) -> LocalModel:
        model = describe(path)
        with self._lock:
            paths = self.paths()
            if model.path not in paths:
                self._save([*paths, model.path])
        return model

    def remove(self, path: str) -> None:
        with self._lock:
            self._save([p for p in self.paths() if p != path])

    def scan(self) -> list[LocalModel]:
        """Every entry with its size; a file that went away stays listed, marked missing."""
        found = []
        for path in self.paths():
            location = Path(path)
            if location.exists():
                kind = "folder" if location.is_dir() else "file"
                found.append(LocalModel(path, kind, folder_size(location)))
            else:
                found.append(LocalModel(path, "file", 0, exists=False))
        return found
