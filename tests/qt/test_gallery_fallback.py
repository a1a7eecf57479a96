"""An image finished while the gallery's index cannot be opened is still saved, into its day
folder like every other image (not the top of the gallery folder)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sd21_desktop.app import save_to_gallery_folder
from sd21_desktop.gallery import layout
from sd21_desktop.gallery.metadata import ImageRecord, read_record
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from tests.gallery.test_store_support import image, request


def test_an_image_saved_without_the_index_goes_to_its_day_folder(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_paths(data_dir).ensure()
    monkeypatch.setattr(layout, "FOLDER_LIMIT", 2)
    before = time.time()
    saved = [
        Path(save_to_gallery_folder(paths, image(seed), ImageRecord(request(seed=7), 7, 0, {}))[0])
        for seed in range(3)
    ]
    days = {layout.day_folder(when, False) for when in (before, time.time())}
    folders = [path.parent.relative_to(paths.gallery_dir).as_posix() for path in saved]
    assert folders[0] in days
    assert folders[1] == folders[0]
    assert folders[2] == f"{folders[0]}-2"  # a full day continues in its next part
    assert len(set(saved)) == 3  # one seed, likely one second: a free name each
    assert all(read_record(path).seed == 7 for path in saved)

    with GalleryStore(paths) as store:  # the next open indexes them where they are
        names = sorted(entry.file_name for entry in store.search())
    assert names == sorted(path.relative_to(paths.gallery_dir).as_posix() for path in saved)


def test_a_name_taken_in_the_trash_is_not_reused(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = resolve_paths(data_dir).ensure()
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)  # both saves in one second
    record = ImageRecord(request(seed=1), 1, 0, {})
    first = Path(save_to_gallery_folder(paths, image(1), record)[0])
    trashed = paths.data_dir / layout.TRASH_FOLDER / first.relative_to(paths.gallery_dir)
    trashed.parent.mkdir(parents=True, exist_ok=True)
    first.replace(trashed)  # deleted to the trash: its name stays taken for an undo
    again = Path(save_to_gallery_folder(paths, image(1), record)[0])
    assert again.parent == first.parent
    assert again.name == f"{first.stem}-2.png"
