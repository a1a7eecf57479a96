"""Imports never abort: every file is imported, skipped or reported on its own (issue 24)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sd21_desktop.gallery import store as store_module
from sd21_desktop.gallery.entries import GalleryQuery
from sd21_desktop.gallery.importers.checkpoints import SD21, SD21_BASE
from sd21_desktop.gallery.store import GalleryStore
from tests.gallery.import_folder_support import BIG_SEED, make_import_folder
from tests.test_cli_gallery import run_cli


def test_a_huge_seed_and_a_damaged_chunk_never_abort_the_folder(
    tmp_path: Path, data_dir: Path
) -> None:
    given = make_import_folder(tmp_path)
    with GalleryStore.open() as store:
        report = store.import_files([given.folder])
        assert len(report.imported) == 9
        assert report.skipped == []
        [problem] = report.errors
        assert problem.path == given.damaged
        assert "not an image file that can be read" in problem.message
        [big] = [entry for entry in report.imported if entry.file_name.endswith("big-seed.png")]
        assert (big.source, big.seed) == ("comfyui", BIG_SEED)
        assert big.request is not None
        assert big.request.seed == BIG_SEED  # exactly: no modulo
        assert big.request.model == SD21  # v2-1_768-ema-pruned.safetensors
        assert store.get(big.id).seed == BIG_SEED  # read back from the index
        assert [e.id for e in store.search(GalleryQuery(seed=BIG_SEED))] == [big.id]
        normal = [entry for entry in report.imported if entry.id != big.id]
        assert {entry.request.model for entry in normal if entry.request} == {SD21_BASE}
        assert sorted(entry.seed for entry in normal) == list(range(8))
        # Nothing of the damaged file reached the gallery folder.
        assert not list((store.layout.gallery_dir / "imported").glob("damaged*"))


def test_an_unexpected_error_in_one_file_is_that_files_error_line(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = make_import_folder(tmp_path)
    real_read = store_module.read_facts
    broken = given.normal[3]

    def read_facts(path: Path, *args: object, **kwargs: object) -> object:
        if path == broken:
            raise RuntimeError("a bug in a reader\nwith a second line")
        return real_read(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "read_facts", read_facts)
    with GalleryStore.open() as store:
        report = store.import_files([given.folder])
    assert len(report.imported) == 8
    messages = {problem.path: problem.message for problem in report.errors}
    assert set(messages) == {broken, given.damaged}
    assert (
        messages[broken] == "Unexpected error (RuntimeError: a bug in a reader with a second line)."
    )


def test_a_failed_index_write_drops_the_imported_copy_and_goes_on(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = make_import_folder(tmp_path)
    real_insert = store_module.insert_written

    def insert_written(connection: object, row: tuple[object, ...]) -> int:
        if str(row[0]).endswith("a1111-5.png"):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real_insert(connection, row)  # type: ignore[arg-type]

    monkeypatch.setattr(store_module, "insert_written", insert_written)
    with GalleryStore.open() as store:
        report = store.import_files([given.folder])
        assert len(report.imported) == 8
        assert {problem.path.name for problem in report.errors} == {
            "a1111-5.png",
            "damaged-chunk.png",
        }
        imported = store.layout.gallery_dir / "imported"
        copies = sorted(path.name for path in imported.rglob("*.png"))
    assert "a1111-5.png" not in copies  # no file without a row, to fail again at every open
    assert len(copies) == 8
    assert given.normal[5].exists()  # the original is untouched
    with GalleryStore.open() as store:
        assert store.notices == []
        assert store.count() == 8


def test_a_missing_path_among_others_is_reported_and_the_rest_import(
    tmp_path: Path, data_dir: Path
) -> None:
    given = make_import_folder(tmp_path)
    missing = tmp_path / "not-there"
    with GalleryStore.open() as store:
        report = store.import_files([missing, given.normal[0], given.big_seed])
    assert len(report.imported) == 2
    assert [(p.path, p.message) for p in report.errors] == [(missing, "No such file or folder.")]


def test_cli_import_reports_each_file_and_right_counts(tmp_path: Path, data_dir: Path) -> None:
    given = make_import_folder(tmp_path)
    status, _, err = run_cli("gallery", "import", str(given.folder))
    assert status == 2  # something failed: not a success, but nothing was aborted
    assert "imported 9, skipped 0, failed 1" in err
    assert f"failed: {given.damaged}: This is not an image file that can be read" in err
    assert err.count("\nimported ") + err.startswith("imported ") >= 9
    assert "Traceback" not in err
    assert "internal error" not in err
    status, _, err = run_cli("gallery", "import", str(given.folder))
    assert "imported 0, skipped 9, failed 1" in err
    status, out, err = run_cli("gallery", "list", "--seed", str(BIG_SEED), "--json")
    assert status == 0, err
    assert str(BIG_SEED) in out
