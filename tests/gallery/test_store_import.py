"""Importing images made elsewhere: any format Pillow opens, with or without metadata."""

from __future__ import annotations

import builtins
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.layout import day_folder
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from tests.conftest import FIXTURE_IMAGES
from tests.gallery.test_store_support import add, image, pixels, snapshot

A1111_PNG = FIXTURE_IMAGES / "a1111" / "kongha__SD.png"
A1111_JPEG = FIXTURE_IMAGES / "a1111" / "sdparsers__automatic1111_cropped.jpg"
COMFY_WEBP = FIXTURE_IMAGES / "comfyui" / "enslo__comfyui-animated-webp.webp"
NO_METADATA = FIXTURE_IMAGES / "_negative" / "enslo__gimp.webp"
EMPTY_FILE = FIXTURE_IMAGES / "_negative" / "sdparsers__empty_file.png"


@pytest.fixture
def store(data_dir: Path) -> Iterator[GalleryStore]:
    opened = GalleryStore.open()
    yield opened
    opened.close()


def test_images_of_other_tools_import_with_their_settings(store: GalleryStore) -> None:
    report = store.import_files([A1111_PNG, A1111_JPEG, COMFY_WEBP])
    assert report.errors == []
    assert report.skipped == []
    by_source = {entry.source: entry for entry in report.imported}
    assert set(by_source) == {"a1111", "comfyui"}
    assert len(report.imported) == 3
    for entry in report.imported:
        assert entry.origin == "imported"
        assert entry.has_metadata
        assert entry.path.parent.parent == resolve_paths().gallery_dir / "imported"
        assert entry.path.is_file()
        assert entry.request is not None
        assert entry.request.prompt == entry.prompt
    jpeg = next(e for e in report.imported if e.path.suffix == ".jpg")
    assert jpeg.path.read_bytes() == A1111_JPEG.read_bytes()  # copied byte for byte
    assert "duck" in jpeg.prompt
    assert store.count(GalleryQuery(text="duck")) == 1
    assert store.count(GalleryQuery(origin="imported")) == 3


def test_an_image_without_metadata_imports_marked_as_such(store: GalleryStore) -> None:
    report = store.import_files([NO_METADATA])
    [entry] = report.imported
    assert (entry.has_metadata, entry.source, entry.request, entry.prompt) == (
        False,
        None,
        None,
        "",
    )
    assert "No generation settings" in entry.details["problem"]
    with Image.open(entry.path) as opened:
        assert opened.size == (entry.width, entry.height)


def test_bad_files_get_one_clear_error_each_and_the_rest_import(
    store: GalleryStore, tmp_path: Path
) -> None:
    good = tmp_path / "good.png"
    image(1).save(good)
    text = tmp_path / "notes.txt"
    text.write_text("just words")
    truncated = tmp_path / "truncated.png"
    image(2).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-40])
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff\xe0 garbage")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.png"
    report = store.import_files([text, good, truncated, fake, empty, missing])
    assert [e.path.name for e in report.imported] == ["good.png"]
    errors = {problem.path.name: problem.message for problem in report.errors}
    assert set(errors) == {"notes.txt", "truncated.png", "fake.jpg", "empty.png", "missing.png"}
    assert errors["notes.txt"].startswith("This is not an image file that can be read")
    assert errors["empty.png"] == "The file is empty."
    assert errors["missing.png"] == "No such file or folder."
    assert store.count() == 1
    assert not list((resolve_paths().gallery_dir / "imported").glob("*.txt"))


def test_a_folder_imports_its_images_recursively(store: GalleryStore, tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    image(1).save(folder / "one.png")
    image(2).convert("RGB").save(folder / "sub" / "two.jpg", quality=95)
    image(3).save(folder / "sub" / "three.webp")
    image(4).save(folder / ".hidden" / "secret.png")
    (folder / "readme.txt").write_text("not an image, skipped inside folders")
    report = store.import_files([folder])
    assert sorted(e.path.name for e in report.imported) == ["one.png", "three.webp", "two.jpg"]
    assert report.errors == []
    assert pixels(store.search(GalleryQuery(text=""))[0].path)  # opens


def test_the_same_image_twice_is_skipped(store: GalleryStore, tmp_path: Path) -> None:
    picture = tmp_path / "picture.png"
    image(5).save(picture)
    first = store.import_files([picture])
    second = store.import_files([picture, picture])
    assert len(first.imported) == 1
    assert second.imported == []
    assert [p.message for p in second.skipped] == [
        f"The same image is already in the gallery (#{first.imported[0].id})."
    ] * 2


def test_files_already_in_the_gallery_folder_are_skipped(store: GalleryStore) -> None:
    entry = add(store)
    report = store.import_files([resolve_paths().gallery_dir])
    assert report.imported == []
    assert len(report.skipped) == 1
    assert report.skipped[0].path == entry.path


def test_our_own_png_imports_with_its_exact_request(
    store: GalleryStore, tmp_path: Path
) -> None:
    entry = add(store, "exported and brought back", seed=77)
    exported = tmp_path / "exported.png"
    shutil.copy(entry.path, exported)
    store.delete(entry.id)
    [imported] = store.import_files([exported]).imported
    assert (imported.origin, imported.source) == ("imported", "sd21-desktop")
    assert imported.request == entry.request
    assert imported.seed == 77
    assert imported.created == entry.created  # the time in its record


def test_names_are_made_safe_and_unique(store: GalleryStore, tmp_path: Path) -> None:
    odd = tmp_path / "a picture: (final) «v2».PNG"
    image(6).save(odd, format="PNG")
    other = tmp_path / "b" / "a picture: (final) «v2».PNG"
    other.parent.mkdir()
    image(7).save(other, format="PNG")
    names = [e.file_name for e in store.import_files([odd, other]).imported]
    assert names[0].startswith("imported/")
    assert names[0].endswith(".png")
    assert len(set(names)) == 2
    assert all(":" not in name and " " not in name for name in names)


def test_a_file_without_an_image_suffix_gets_one(store: GalleryStore, tmp_path: Path) -> None:
    nameless = tmp_path / "download"
    image(8).convert("RGB").save(nameless, format="JPEG")
    [entry] = store.import_files([nameless]).imported
    assert entry.file_name == f"{day_folder(entry.created, True)}/download.jpg"


def test_imported_entries_survive_a_rebuild(store: GalleryStore, tmp_path: Path) -> None:
    store.import_files([A1111_PNG, NO_METADATA])
    add(store, "generated")
    before = snapshot(store)
    store.close()
    resolve_paths().database_path.unlink()
    with GalleryStore.open() as rebuilt:
        assert rebuilt.rebuilt
        assert snapshot(rebuilt) == before


def test_import_works_without_the_importers_package(
    store: GalleryStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our own PNGs still import through ``read_record`` when the importers are absent."""
    entry = add(store, "own image", seed=3)
    copy = tmp_path / "copy.png"
    shutil.copy(entry.path, copy)
    plain = tmp_path / "plain.png"
    image(9).save(plain)
    real_import = builtins.__import__

    def without_importers(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("sd21_desktop.gallery.importers") or (
            name == "sd21_desktop.gallery" and "importers" in (args[2] or ())
        ):
            raise ImportError("importers are not there yet")
        return real_import(name, *args, **kwargs)

    store.delete(entry.id)
    with monkeypatch.context() as patch:
        patch.setattr(builtins, "__import__", without_importers)
        report = store.import_files([copy, plain])
    own, bare = report.imported
    assert own.request == entry.request
    assert own.source == "sd21-desktop"
    assert (bare.has_metadata, bare.request) == (False, None)


def test_progress_and_cancel(store: GalleryStore, tmp_path: Path) -> None:
    for number in range(4):
        image(number).save(tmp_path / f"{number}.png")
    seen: list[tuple[int, int]] = []
    report = store.import_files(
        [tmp_path], on_progress=lambda done, total: seen.append((done, total)),
        should_cancel=lambda: len(seen) >= 2,
    )
    assert seen == [(1, 4), (2, 4)]
    assert len(report.imported) == 2
