"""The user's own model list: adds from several threads at once lose none of them."""

from __future__ import annotations

import threading
from pathlib import Path

from sd21_desktop.local_models import LocalModels


def test_adds_from_many_threads_at_once_are_all_kept(tmp_path: Path) -> None:
    files = []
    for number in range(12):
        path = tmp_path / f"model-{number}.safetensors"
        path.write_bytes(b"\0" * 100)
        files.append(str(path))
    models = LocalModels(tmp_path / "local_models.json")
    start = threading.Barrier(len(files))

    def add(path: str) -> None:
        start.wait()
        models.add(path)

    threads = [threading.Thread(target=add, args=(path,)) for path in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(models.paths()) == sorted(files)
