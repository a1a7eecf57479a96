"""The gallery store: saving, finding, favourites, delete/undo, inputs, threads."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.layout import day_folder
from sd21_desktop.gallery.metadata import ImageRecord, read_record
from sd21_desktop.gallery.schema import SCHEMA_VERSION
from sd21_desktop.gallery.search import match_expression
from sd21_desktop.gallery.store import GalleryStore, UnknownEntryError
from sd21_desktop.paths import resolve_paths
from tests.gallery.test_store_support import add, image, pixels, request


@pytest.fixture
def store(data_dir: Path) -> Iterator[GalleryStore]:
    opened = GalleryStore.open()
    yield opened
    opened.close()


def texts(entries: list) -> list[str]:
    return [entry.prompt for entry in entries]


def test_a_saved_image_is_a_png_in_the_gallery_with_its_request(
    store: GalleryStore, data_dir: Path
) -> None:
    made = request("a lighthouse", negative_prompt="fog", seed=42, batch_size=2)
    entry = store.add_image(image(7), ImageRecord(made, 43, 1, {"device": "cpu"}))
    # In the folder of its day (local time), under the gallery folder.
    assert entry.path.parent == resolve_paths().gallery_dir / day_folder(entry.created, False)
    assert entry.path.suffix == ".png"
    assert entry.path.is_file()
    record = read_record(entry.path)
    assert record is not None
    assert (record.request, record.seed, record.batch_index) == (made, 43, 1)
    assert record.runtime["device"] == "cpu"
    assert "created" in record.runtime
    assert pixels(entry.path) == image(7).tobytes()
    got = store.get(entry.id)
    assert got == entry
    assert (got.origin, got.source, got.has_metadata) == ("generated", "sd21-desktop", True)
    assert (got.seed, got.batch_index, got.request) == (43, 1, made)
    assert (got.model, got.mode, got.width, got.height) == (made.model, "txt2img", 64, 64)
    assert abs(got.created - time.time()) < 60
    assert json.loads(json.dumps(got.to_json_dict()))["request"] == made.to_dict()


def test_the_index_is_wal_with_a_schema_version(store: GalleryStore, data_dir: Path) -> None:
    connection = sqlite3.connect(resolve_paths().database_path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        connection.close()


def test_save_result_saves_each_image_with_its_seed_and_index(store: GalleryStore) -> None:
    class Runtime:
        def to_dict(self) -> dict[str, str]:
            return {"device": "cpu"}

    class Result:
        request = request("twins", seed=10, batch_size=2)
        images = [image(1), image(2)]
        seeds = [10, 11]
        runtime = Runtime()

    entries = store.save_result(Result())
    assert [(e.seed, e.batch_index) for e in entries] == [(10, 0), (11, 1)]
    assert entries[0].file_name != entries[1].file_name
    assert store.count() == 2


def test_same_second_same_seed_gets_distinct_names(store: GalleryStore) -> None:
    first, second = add(store, seed=3), add(store, seed=3)
    assert first.file_name != second.file_name
    assert first.path.is_file()
    assert second.path.is_file()


def test_get_of_an_unknown_id_is_a_user_facing_error(store: GalleryStore) -> None:
    assert store.find(12345) is None
    with pytest.raises(UnknownEntryError, match="no gallery entry #12345"):
        store.get(12345)
    assert issubclass(UnknownEntryError, UserFacingError)


def test_newest_first_with_paging_and_count(store: GalleryStore) -> None:
    for number in range(7):
        add(store, f"picture {number}", seed=number)
    assert texts(store.search(limit=3)) == ["picture 6", "picture 5", "picture 4"]
    assert texts(store.search(offset=3, limit=3)) == ["picture 3", "picture 2", "picture 1"]
    assert texts(store.search(offset=6, limit=3)) == ["picture 0"]
    assert store.search(offset=7) == []
    assert store.count() == 7


def test_full_text_search_matches_prefixes_as_you_type(store: GalleryStore) -> None:
    add(store, "a red castle on a hill", negative_prompt="blurry, lowres")
    add(store, "a castle in the snow, café lights")
    add(store, "portrait of a cat", negative_prompt="castles")
    assert set(texts(store.search(GalleryQuery(text="cas")))) == {
        "a red castle on a hill",
        "a castle in the snow, café lights",
        "portrait of a cat",  # its negative prompt says "castles"
    }
    assert texts(store.search(GalleryQuery(text="cas", include_negative=False))) == [
        "a castle in the snow, café lights",
        "a red castle on a hill",
    ]
    assert texts(store.search(GalleryQuery(text="castle hi"))) == ["a red castle on a hill"]
    assert texts(store.search(GalleryQuery(text="CAFE"))) == ["a castle in the snow, café lights"]
    assert texts(store.search(GalleryQuery(text="blur"))) == ["a red castle on a hill"]
    assert store.count(GalleryQuery(text="dragon")) == 0
    assert store.count(GalleryQuery(text="cas")) == 3


@pytest.mark.parametrize(
    "text",
    ['(masterpiece:1.2), "cat', "NOT AND OR", "a*b", "-x", "{prompt}: x", "'; DROP TABLE", "^"],
)
def test_search_text_with_fts_syntax_never_fails(store: GalleryStore, text: str) -> None:
    add(store, "masterpiece, a cat, x")
    store.search(GalleryQuery(text=text))
    store.count(GalleryQuery(text=text))


def test_match_expression_quotes_words_and_ignores_punctuation() -> None:
    assert match_expression("  ") is None
    assert match_expression("(red_hair:1.2)") == '"red"* "hair"* "1"* "2"*'
    assert match_expression("cat", include_negative=False) == 'prompt : ("cat"*)'


def test_filters_model_mode_size_date_favourite(store: GalleryStore) -> None:
    base = add(store, "base one", model="owner/base", width=64, height=64)
    wide = add(store, "wide one", model="owner/other", width=128, height=64)
    fav = add(store, "fav one", model="owner/base", width=64, height=64)
    store.set_favourite(fav.id, True)

    def find(**fields: object) -> set[str]:
        return set(texts(store.search(GalleryQuery(**fields))))  # type: ignore[arg-type]

    assert find(model="owner/base") == {"base one", "fav one"}
    assert find(mode="txt2img") == {"base one", "wide one", "fav one"}
    assert find(mode="inpaint") == set()
    assert find(width=128, height=64) == {"wide one"}
    assert find(favourites_only=True) == {"fav one"}
    assert find(favourites_only=True, text="base") == set()
    assert find(created_from=wide.created) == {"wide one", "fav one"}
    assert find(created_until=wide.created) == {"base one"}
    assert find(created_from=base.created, created_until=fav.created) == {"base one", "wide one"}
    assert find(origin="imported") == set()
    assert store.models() == ["owner/base", "owner/other"]
    assert store.sizes() == [(64, 64), (128, 64)]


def test_favourite_toggle(store: GalleryStore) -> None:
    entry = add(store)
    assert store.toggle_favourite(entry.id).favourite is True
    assert store.get(entry.id).favourite is True
    assert store.toggle_favourite(entry.id).favourite is False
    assert store.set_favourite(entry.id, True).favourite is True
    with pytest.raises(UnknownEntryError):
        store.set_favourite(999, True)


def test_delete_moves_to_trash_and_undo_restores(store: GalleryStore, data_dir: Path) -> None:
    keep, gone = add(store, "keep me"), add(store, "delete me")
    original = gone.path
    deleted = store.delete(gone.id)
    assert deleted.deleted
    assert not original.exists()
    assert deleted.path.is_file()
    assert deleted.path.is_relative_to(data_dir / "trash")
    assert texts(store.search()) == ["keep me"]
    assert store.count() == 1
    assert texts(store.search(GalleryQuery(in_trash=True))) == ["delete me"]
    assert store.count(GalleryQuery(text="delete")) == 0
    restored = store.restore(gone.id)
    assert not restored.deleted
    assert restored.path == original
    assert original.is_file()
    assert texts(store.search()) == ["delete me", "keep me"]
    assert store.delete(keep.id).deleted
    assert store.delete(keep.id).deleted  # twice is harmless


def test_empty_trash_removes_files_and_entries(store: GalleryStore) -> None:
    first, second, kept = add(store, "one"), add(store, "two"), add(store, "three")
    trashed = [store.delete(first.id).path, store.delete(second.id).path]
    assert store.empty_trash() == 2
    assert not any(path.exists() for path in trashed)
    assert store.find(first.id) is None
    assert store.find(second.id) is None
    assert [entry.id for entry in store.search()] == [kept.id]
    assert store.empty_trash() == 0


def test_a_name_in_the_trash_is_never_reused(store: GalleryStore) -> None:
    first = add(store, seed=5)
    store.delete(first.id)
    second = add(store, seed=5)
    assert second.file_name != first.file_name
    store.restore(first.id)
    assert store.get(first.id).path.is_file()
    assert second.path.is_file()


def test_restore_when_the_trash_file_vanished_says_so(store: GalleryStore) -> None:
    entry = store.delete(add(store).id)
    entry.path.unlink()
    with pytest.raises(UnknownEntryError, match="no longer in the trash"):
        store.restore(entry.id)
    assert store.find(entry.id) is None


def test_inputs_are_content_addressed(store: GalleryStore, data_dir: Path) -> None:
    import io

    buffer = io.BytesIO()
    image(3).save(buffer, format="PNG")
    data = buffer.getvalue()
    digest = store.store_input(data)
    assert len(digest) == 64
    assert store.store_input(data) == digest  # stored once
    path = store.input_path(digest)
    assert path.read_bytes() == data
    assert path.parent == resolve_paths().inputs_dir
    assert list(path.parent.iterdir()) == [path]
    with pytest.raises(UserFacingError):
        store.input_path("../../etc/passwd")
    with pytest.raises(UserFacingError):
        store.store_input(b"")


def test_threads_share_one_store(store: GalleryStore) -> None:
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            for number in range(8):
                add(store, f"thread {offset} image {number}", seed=7)  # same seed: same names
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def reader() -> None:
        try:
            for _ in range(30):
                store.search(GalleryQuery(text="thread"), limit=10)
                store.count()
        except BaseException as error:  # pragma: no cover
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = store.search(limit=100)
    assert len(entries) == 24 == len({entry.file_name for entry in entries})
    for entry in entries:
        with Image.open(entry.path) as opened:
            opened.load()


def test_two_stores_on_one_folder_see_each_other(store: GalleryStore) -> None:
    with GalleryStore.open() as other:
        entry = add(other, "from another process")
    assert store.get(entry.id).prompt == "from another process"


def test_an_index_from_a_newer_app_is_refused_untouched(data_dir: Path) -> None:
    GalleryStore.open().close()
    database = resolve_paths().database_path
    connection = sqlite3.connect(database)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.commit()
    connection.close()
    before = database.read_bytes()
    with pytest.raises(UserFacingError, match="newer SD21 Desktop"):
        GalleryStore.open()
    assert database.read_bytes() == before
