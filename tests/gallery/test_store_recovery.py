"""The PNGs are the truth: a lost, damaged or stale index comes back from them.

Includes the crash test: a child process saving batches is killed with SIGKILL at random moments;
after each kill the store must open, list only images that open, and miss no finished PNG.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from sd21_desktop.gallery import store as store_module
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.layout import is_candidate
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from tests.conftest import REPO_ROOT
from tests.gallery.test_store_support import add, image, snapshot


def fill(store: GalleryStore) -> None:
    """A few generated entries, one favourite, one in the trash."""
    for number in range(6):
        add(store, f"scene {number} with a lantern", seed=number, negative_prompt="dark")
    entries = store.search()
    store.set_favourite(entries[0].id, True)
    store.delete(entries[1].id)


def gallery_files() -> set[str]:
    """Image files in the gallery folder (recursively), relative, "/"-separated."""
    root = resolve_paths().gallery_dir
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and is_candidate(path.name)
    }


def test_a_fresh_data_folder_opens_without_notice(data_dir: Path) -> None:
    with GalleryStore.open() as store:
        assert store.notices == []
        assert store.notice is None
        assert not store.rebuilt
    with GalleryStore.open() as store:
        assert store.notices == []
        assert not store.rebuilt


def test_a_deleted_index_is_rebuilt_with_the_same_entries(data_dir: Path) -> None:
    with GalleryStore.open() as store:
        fill(store)
        live, trash = snapshot(store), snapshot(store, in_trash=True)
    database = resolve_paths().database_path
    database.unlink()
    with GalleryStore.open() as store:
        assert store.rebuilt
        assert store.notice is not None
        assert "missing" in store.notice
        assert "6 images" in store.notice
        assert snapshot(store) == live
        assert snapshot(store, in_trash=True) == trash
        assert store.count(GalleryQuery(text="lant")) == 5  # the search index is back too
    with GalleryStore.open() as store:
        assert store.notices == []
        assert not store.rebuilt


@pytest.mark.parametrize("damage", ["garbage", "garbage_after_header", "empty"])
def test_a_damaged_index_is_rebuilt_with_a_notice(data_dir: Path, damage: str) -> None:
    with GalleryStore.open() as store:
        fill(store)
        live, trash = snapshot(store), snapshot(store, in_trash=True)
    database = resolve_paths().database_path
    data = database.read_bytes()
    noise = random.Random(1).randbytes(len(data))
    if damage == "garbage":
        database.write_bytes(noise)
    elif damage == "garbage_after_header":
        database.write_bytes(data[:100] + noise[100:])
    else:
        database.write_bytes(b"")
    with GalleryStore.open() as store:
        assert store.rebuilt
        assert store.notice is not None
        if damage != "empty":
            assert "damaged" in store.notice
            assert "kept as" in store.notice
            kept = list(database.parent.glob("gallery.sqlite3.damaged-*"))
            assert len(kept) == 1
            header = noise[:100] if damage == "garbage" else data[:100]
            assert kept[0].read_bytes()[:100] == header
        assert snapshot(store) == live
        assert snapshot(store, in_trash=True) == trash
        add(store, "after the repair")
        assert store.count() == len(live) + 1


def test_a_png_saved_but_not_indexed_is_added_on_open(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The crash window between the rename and the index insert."""
    with GalleryStore.open() as store:
        add(store, "indexed")

        def crash(*args: object, **kwargs: object) -> int:
            raise KeyboardInterrupt("killed between rename and insert")

        # A context, not monkeypatch.undo(): that would also undo the isolated data folder.
        with monkeypatch.context() as patch:
            patch.setattr(store_module, "insert_written", crash)
            with pytest.raises(KeyboardInterrupt):
                add(store, "renamed but not indexed")
        assert store.count() == 1
        assert len(gallery_files()) == 2
    with GalleryStore.open() as store:
        assert not store.rebuilt
        assert store.notice is not None
        assert "Added 1 image" in store.notice
        assert sorted(e.prompt for e in store.search()) == ["indexed", "renamed but not indexed"]


def test_a_crash_during_delete_or_restore_follows_the_file(data_dir: Path) -> None:
    paths = resolve_paths()
    with GalleryStore.open() as store:
        half_deleted, half_restored = add(store, "half deleted"), add(store, "half restored")
        store.delete(half_restored.id)
    # Each rename happened, its UPDATE did not.
    trash = paths.data_dir / "trash"
    os.replace(half_deleted.path, trash / half_deleted.file_name)
    os.replace(trash / half_restored.file_name, paths.gallery_dir / half_restored.file_name)
    with GalleryStore.open() as store:
        assert [e.prompt for e in store.search()] == ["half restored"]
        assert [e.prompt for e in store.search(GalleryQuery(in_trash=True))] == ["half deleted"]
        assert store.restore(half_deleted.id).path.is_file()


def test_files_removed_or_added_by_hand(data_dir: Path) -> None:
    paths = resolve_paths()
    with GalleryStore.open() as store:
        removed, kept = add(store, "removed by hand"), add(store, "kept")
    removed.path.unlink()
    image(9).save(paths.gallery_dir / "dropped-in.png")
    (paths.gallery_dir / "notes.txt").write_text("not an image")
    (paths.gallery_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    truncated = kept.path.read_bytes()
    (paths.gallery_dir / "half-copied.png").write_bytes(truncated[: len(truncated) - 30])
    (paths.gallery_dir / ".half-written.png.123.tmp").write_bytes(b"\x89PNG")
    with GalleryStore.open() as store:
        notice = store.notice or ""
        assert "Removed 1 entry" in notice
        assert "Added 1 image" in notice
        assert "Left out 2 files of the gallery folder that could not be read" in notice
        assert "broken.png" in notice
        assert "half-copied.png" in notice
        entries = {e.file_name: e for e in store.search()}
        assert set(entries) == {kept.file_name, "dropped-in.png"}
        dropped = entries["dropped-in.png"]
        assert (dropped.origin, dropped.has_metadata, dropped.request) == ("imported", False, None)
        assert store.sync() == [
            "Left out 2 files of the gallery folder that could not be read as images: "
            "broken.png, half-copied.png."
        ]


def test_a_migration_from_an_empty_version_0_file(data_dir: Path) -> None:
    paths = resolve_paths().ensure()
    sqlite3.connect(paths.database_path).close()  # an empty SQLite file: user_version 0
    with GalleryStore.open() as store:
        add(store)
        assert store.count() == 1


# -- the SIGKILL test --------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys
    from PIL import Image
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.gallery.metadata import ImageRecord
    from sd21_desktop.gallery.store import GalleryStore

    store = GalleryStore.open(sys.argv[1])
    print("ready", flush=True)
    run = int(sys.argv[2])
    for batch in range(10_000):
        request = GenerationRequest(
            prompt=f"run {run} batch {batch}", model="owner/model", seed=batch * 4,
            width=64, height=64, batch_size=4, steps=2,
        )
        for index in range(4):
            picture = Image.new("RGB", (64, 64), (run * 40 % 256, batch % 256, index * 60))
            store.add_image(picture, ImageRecord(request, batch * 4 + index, index, {}))
    """
)


def check_consistent(data_dir: Path) -> int:
    with GalleryStore.open(data_dir) as store:
        entries = store.search(limit=1_000_000)
        for entry in entries:
            with Image.open(entry.path) as opened:
                opened.load()
        assert {entry.file_name for entry in entries} == gallery_files()
        # Temp files of killed saves are cleaned up on open (their process is gone).
        assert not list(resolve_paths(data_dir).gallery_dir.rglob(".*.tmp"))
        assert store.count(GalleryQuery(text="run")) == len(entries)
        return len(entries)


def test_sigkill_while_saving_loses_no_finished_png(data_dir: Path) -> None:
    rng = random.Random(20240611)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    counts = []
    for run in range(8):
        if run % 3 == 2:
            # Also kill a child that is rebuilding the index at open.
            resolve_paths().database_path.unlink(missing_ok=True)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data_dir), str(run)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=environment,
            cwd=REPO_ROOT,
        )
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != b"ready":
            child.kill()
            pytest.fail(f"child failed: {line!r} {child.stderr.read()!r}")  # type: ignore[union-attr]
        time.sleep(rng.uniform(0.0, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL
        counts.append(check_consistent(data_dir))
    assert counts == sorted(counts)  # nothing finished was ever lost
    assert counts[-1] > 0
