"""The gallery commands of the CLI, and ``generate`` saving through the store."""

from __future__ import annotations

import io
import json
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace

import pytest

from sd21_desktop.cli import _save_results, main
from sd21_desktop.gallery.layout import day_folder
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from tests.gallery.test_store_support import add, image, pixels, request


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_gallery_list_json_is_one_object_per_entry_newest_first(data_dir: Path) -> None:
    with GalleryStore.open() as store:
        ids = [add(store, f"a lamp number {n}", seed=n).id for n in range(3)]
        add(store, "something else")
    status, out, err = run_cli("gallery", "list", "--json", "--search", "lam")
    assert status == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == ids[::-1]
    for line in lines:
        assert {"id", "path", "created", "request"} <= set(line)
        assert Path(line["path"]).is_file()
        assert line["request"]["prompt"] == line["prompt"]
        assert line["created"].endswith("+00:00")
    status, out, _ = run_cli("gallery", "list", "--json", "--limit", "2")
    assert status == 0
    assert len(out.splitlines()) == 2


def test_gallery_list_text_and_data_dir_option(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    with GalleryStore.open(other) as store:
        entry = add(store, "a quiet harbour at dawn")
        store.set_favourite(entry.id, True)
    for argv in (
        ("gallery", "list", "--data-dir", str(other)),
        ("--data-dir", str(other), "gallery", "list"),  # before the command works too
    ):
        status, out, err = run_cli(*argv)
        assert status == 0, err
        assert f"#{entry.id}" in out
        assert "a quiet harbour at dawn" in out
        assert "*" in out
        assert "1-1 of 1 entries" in err
    status, out, err = run_cli("gallery", "list")  # the default data folder: empty
    assert (status, out) == (0, "")
    assert "0 of 0 entries" in err


def test_gallery_import_files_and_folders_with_a_bad_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    image(1).save(folder / "one.png")
    image(2).convert("RGB").save(folder / "two.jpg")
    bad = tmp_path / "bad.png"
    bad.write_text("no image here")
    single = tmp_path / "single.webp"
    image(3).save(single)
    status, out, err = run_cli("gallery", "import", str(folder), str(bad), str(single), "--json")
    assert status == 2
    lines = [json.loads(line) for line in out.splitlines()]
    names = sorted(Path(line["path"]).name for line in lines)
    assert names == ["one.png", "single.webp", "two.jpg"]
    assert all(line["origin"] == "imported" and not line["has_metadata"] for line in lines)
    assert f"failed: {bad}: This is not an image file that can be read" in err
    assert "imported 3, skipped 0, failed 1" in err
    status, out, err = run_cli("gallery", "import", str(single))
    assert status == 0
    assert "skipped" in err
    assert "already in the gallery" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("rerun", "424242"), "error: There is no gallery entry #424242."),
        (("rerun", "abc"), "invalid int value"),
        (("gallery",), "required"),
        (("gallery", "list", "--limit", "-1"), "--limit and --offset must be 0 or more"),
    ],
)
def test_bad_ids_and_arguments_exit_2_with_one_line(argv: tuple[str, ...], message: str) -> None:
    status, out, err = run_cli(*argv)
    assert status == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_rerun_of_an_image_without_settings_is_refused(tmp_path: Path) -> None:
    picture = tmp_path / "plain.png"
    image(4).save(picture)
    with GalleryStore.open() as store:
        [entry] = store.import_files([picture]).imported
    status, _, err = run_cli("rerun", str(entry.id))
    assert status == 2
    assert "has no generation settings" in err


class _Runtime:
    def to_dict(self) -> dict[str, str]:
        return {"device": "cpu"}


def _fake_result() -> SimpleNamespace:
    return SimpleNamespace(
        request=request("saved by generate", seed=20, batch_size=2),
        images=[image(20), image(21)],
        seeds=[20, 21],
        runtime=_Runtime(),
        timings={"total_s": 1.0},
    )


def _save(tmp_path: Path, **options: object) -> tuple[list[dict[str, object]], str]:
    args = Namespace(out=None, no_gallery=False, data_dir=None, json=True)
    for key, value in options.items():
        setattr(args, key, value)
    out, err = io.StringIO(), io.StringIO()
    _save_results(_fake_result(), tmp_path, out, err, as_json=True, args=args)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_generate_saves_into_the_gallery_by_default(tmp_path: Path) -> None:
    lines, _ = _save(tmp_path)
    with GalleryStore.open() as store:
        entries = {entry.id: entry for entry in store.search()}
    assert [line["batch_index"] for line in lines] == [0, 1]
    for line in lines:
        entry = entries[line["id"]]  # type: ignore[index]
        assert line["path"] == line["gallery_path"] == str(entry.path)
        assert entry.path.parent == resolve_paths().gallery_dir / day_folder(entry.created, False)
        assert line["timings"] == {"total_s": 1.0}


def test_generate_with_out_writes_there_and_still_indexes(tmp_path: Path) -> None:
    lines, _ = _save(tmp_path, out=str(tmp_path / "out"))
    for line in lines:
        copy, original = Path(str(line["path"])), Path(str(line["gallery_path"]))
        assert copy.parent == tmp_path / "out"
        assert copy.read_bytes() == original.read_bytes()
    with GalleryStore.open() as store:
        assert store.count() == 2


def test_generate_with_no_gallery_leaves_the_gallery_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, _ = _save(tmp_path, out=str(tmp_path / "out"), no_gallery=True)
    assert all(line["id"] is None and line["gallery_path"] is None for line in lines)
    assert all(Path(str(line["path"])).parent == tmp_path / "out" for line in lines)
    monkeypatch.chdir(tmp_path)
    lines, _ = _save(tmp_path, no_gallery=True)  # no --out: the current folder
    assert all(Path(str(line["path"])).parent == tmp_path for line in lines)
    with GalleryStore.open() as store:
        assert store.count() == 0


def test_rerun_gives_a_bit_identical_image_as_a_new_entry(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "a small red boat",
        "--model",
        str(tiny_model_dir),
        "--seed",
        "31",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--json",
    )
    assert status == 0, err
    made = [json.loads(line) for line in out.splitlines()]
    second = made[1]
    assert pixels(Path(made[0]["path"])) != pixels(Path(second["path"]))  # the index matters
    assert second["batch_index"] == 1
    assert second["id"] is not None
    status, out, err = run_cli(
        "rerun", str(second["id"]), "--json", "--device", "cpu", "--out", str(tmp_path / "out")
    )
    assert status == 0, err
    [again] = [json.loads(line) for line in out.splitlines()]
    assert again["rerun_of"] == second["id"]
    assert again["id"] not in {m["id"] for m in made}
    assert (again["seed"], again["batch_index"]) == (32, 1)
    assert again["request"] == second["request"]
    assert pixels(Path(again["gallery_path"])) == pixels(Path(second["path"]))
    assert pixels(Path(again["path"])) == pixels(Path(second["path"]))
    with GalleryStore.open() as store:
        assert store.count() == 3
        assert store.get(again["id"]).request == store.get(second["id"]).request


def test_rerun_of_an_inpaint_entry_in_another_data_dir_is_bit_identical(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from PIL import Image

    source = tmp_path / "source.png"
    Image.new("RGB", (64, 64), (30, 120, 200)).save(source)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    mask.save(tmp_path / "mask.png")
    elsewhere = tmp_path / "portable-data"  # not $SD21_DESKTOP_DATA_DIR: --data-dir only
    common = ("--model", str(tiny_model_dir), "--device", "cpu", "--data-dir", str(elsewhere))
    status, out, err = run_cli(
        "generate",
        "--prompt",
        "a boat",
        "--mode",
        "inpaint",
        "--init-image",
        str(source),
        "--mask",
        str(tmp_path / "mask.png"),
        "--steps",
        "2",
        "--seed",
        "4",
        "--json",
        *common,
    )
    assert status == 0, err
    made = json.loads(out)
    assert (elsewhere / "inputs" / made["request"]["mask_image"]).is_file()
    status, out, err = run_cli("rerun", str(made["id"]), "--json", *common)
    assert status == 0, err
    again = json.loads(out)
    assert pixels(Path(again["path"])) == pixels(Path(made["path"]))
