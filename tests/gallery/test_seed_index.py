"""Unsigned 64-bit seeds in the SQLite index: stored as seed - 2^63, matched and sorted exactly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import GalleryQuery, seed_from_column, seed_to_column
from sd21_desktop.gallery.schema import MIGRATIONS, SCHEMA_VERSION
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from tests.gallery.test_store_support import add, snapshot

V1_COLUMNS = (
    "id, file_name, created, origin, source, has_metadata, prompt, negative_prompt, model, mode, "
    "width, height, seed, batch_index, request_json, runtime_json, details_json, favourite, "
    "deleted_at, sha256"
)

SEEDS = [2**64 - 1, 0, 2**63, 2**32, 2**63 - 1, 2**32 - 1, 7]


def test_every_64_bit_seed_is_stored_matched_and_sorted(data_dir: Path) -> None:
    with GalleryStore.open() as store:
        ids = {seed: add(store, f"a kite {seed}", seed=seed).id for seed in SEEDS}
        by_seed = store.search(GalleryQuery(order="seed"))
        assert [entry.seed for entry in by_seed] == sorted(SEEDS)
        for seed in SEEDS:
            assert [entry.id for entry in store.search(GalleryQuery(seed=seed))] == [ids[seed]]
            assert store.get(ids[seed]).seed == seed
            assert store.count(GalleryQuery(seed=seed, text="kite")) == 1
        assert store.search(GalleryQuery(seed=12345)) == []
    raw = sqlite3.connect(resolve_paths(data_dir).database_path)
    stored = dict(raw.execute("SELECT id, seed FROM entries").fetchall())
    raw.close()
    assert stored[ids[0]] == -(2**63)
    assert stored[ids[2**64 - 1]] == 2**63 - 1


def test_entries_without_a_seed_sort_last(tmp_path: Path, data_dir: Path) -> None:
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (16, 16)).save(plain)
    with GalleryStore.open() as store:
        add(store, "seeded", seed=2**64 - 1)
        store.import_files([plain])
        assert [entry.seed for entry in store.search(GalleryQuery(order="seed"))] == [
            2**64 - 1,
            None,
        ]


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_a_seed_query_out_of_range_is_refused_with_the_range(seed: int, data_dir: Path) -> None:
    with (
        GalleryStore.open() as store,
        pytest.raises(UserFacingError, match="0 to 18446744073709551615"),
    ):
        store.search(GalleryQuery(seed=seed))


def test_an_unknown_order_is_refused(data_dir: Path) -> None:
    with GalleryStore.open() as store, pytest.raises(UserFacingError, match="newest, seed"):
        store.search(GalleryQuery(order="size"))


def test_column_encoding_round_trips_and_keeps_order() -> None:
    assert [seed_from_column(seed_to_column(seed)) for seed in SEEDS] == SEEDS
    assert sorted(SEEDS, key=lambda seed: seed_to_column(seed) or 0) == sorted(SEEDS)
    assert seed_to_column(None) is None
    assert seed_from_column(None) is None


def test_a_version_1_index_is_migrated_in_place(data_dir: Path) -> None:
    small = [0, 5, 2**32, 2**63 - 1]  # what version 1 could hold
    with GalleryStore.open() as store:
        for seed in small:
            add(store, f"a lamp {seed}", seed=seed)
        store.set_favourite(store.search(GalleryQuery(seed=5))[0].id, True)
        before = snapshot(store)
    # Write the index again as version 1 wrote it: its table only, raw seeds, no seed index
    # (the later steps then run on it: seeds, then day folders).
    path = resolve_paths(data_dir).database_path
    old = sqlite3.connect(path)
    rows = old.execute(f"SELECT {V1_COLUMNS} FROM entries ORDER BY id").fetchall()
    old.close()
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    raw = sqlite3.connect(path)
    for statement in MIGRATIONS[1]:
        raw.execute(statement)
    places = ", ".join("?" for _ in V1_COLUMNS.split(","))
    raw.executemany(f"INSERT INTO entries ({V1_COLUMNS}) VALUES ({places})", rows)
    raw.execute("UPDATE entries SET seed = (seed + 9223372036854775807) + 1")
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    assert sorted(row[0] for row in raw.execute("SELECT seed FROM entries")) == small
    raw.close()
    with GalleryStore.open() as store:
        assert store.notices == []  # migrated, not rebuilt: the favourite survives
        assert snapshot(store) == before
        assert [entry.seed for entry in store.search(GalleryQuery(order="seed"))] == small
        assert store.search(GalleryQuery(favourites_only=True))[0].seed == 5
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_our_png_with_a_seed_beyond_64_bits_is_refused_not_crashing_the_index(
    tmp_path: Path, data_dir: Path
) -> None:
    import json

    from PIL import Image, PngImagePlugin

    with GalleryStore.open() as store:
        entry = add(store, "a boat", seed=3)
        with Image.open(entry.path) as image:
            payload = json.loads(image.text["sd21-desktop"])  # type: ignore[attr-defined]
    payload["seed"] = 2**64
    info = PngImagePlugin.PngInfo()
    info.add_text("sd21-desktop", json.dumps(payload))
    forged = tmp_path / "forged.png"
    Image.new("RGB", (64, 64)).save(forged, pnginfo=info)
    with GalleryStore.open() as store:
        report = store.import_files([forged])
    [imported] = report.imported  # imported as an image, without our (invalid) record
    assert imported.source != "sd21-desktop"
    assert imported.seed != 2**64
