"""64-bit seeds end to end: generate (tiny model) → gallery → list / search / sort → re-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.gallery.test_store_support import pixels
from tests.test_cli_gallery import run_cli

SEEDS = [0, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
RANGE = "0 to 18446744073709551615"


def _generate(model: Path, seed: int) -> dict[str, object]:
    status, out, err = run_cli(
        "generate",
        "--prompt",
        f"a paper lantern number {seed}",
        "--model",
        str(model),
        "--seed",
        str(seed),
        "--steps",
        "1",
        "--width",
        "64",
        "--height",
        "64",
        "--device",
        "cpu",
        "--json",
    )
    assert status == 0, err
    [line] = [json.loads(text) for text in out.splitlines()]
    assert line["seed"] == seed
    assert line["request"]["seed"] == seed
    return dict(line)


def _listed(*argv: str) -> list[dict[str, object]]:
    status, out, err = run_cli("gallery", "list", "--json", *argv)
    assert status == 0, err
    return [json.loads(text) for text in out.splitlines()]


def test_64_bit_seeds_through_gallery_list_sort_search_and_rerun(tiny_model_dir: Path) -> None:
    made = {seed: _generate(tiny_model_dir, seed) for seed in reversed(SEEDS)}
    # Sorting by seed follows the unsigned order, also across 2^63 (stored as seed - 2^63).
    assert [entry["seed"] for entry in _listed("--sort", "seed")] == SEEDS
    assert [entry["seed"] for entry in _listed()] == SEEDS  # newest first: made in reverse
    for seed in SEEDS:
        [entry] = _listed("--seed", str(seed))
        assert entry["id"] == made[seed]["id"]
        assert entry["request"]["seed"] == seed  # type: ignore[index]
    [found] = _listed("--search", "lantern", "--seed", str(2**64 - 1))
    assert found["id"] == made[2**64 - 1]["id"]
    status, out, _ = run_cli("gallery", "list", "--search", "lantern")
    assert status == 0
    assert f"seed {2**64 - 1}" in out
    # The PNG's infotext and our JSON carry the seed exactly.
    with Image.open(str(made[2**64 - 1]["path"])) as image:
        assert f"Seed: {2**64 - 1}," in image.text["parameters"]  # type: ignore[attr-defined]
        assert json.loads(image.text["sd21-desktop"])["seed"] == 2**64 - 1  # type: ignore[attr-defined]
    for seed in SEEDS:
        status, out, err = run_cli("rerun", str(made[seed]["id"]), "--json", "--device", "cpu")
        assert status == 0, err
        [again] = [json.loads(text) for text in out.splitlines()]
        assert again["seed"] == seed
        assert pixels(Path(again["gallery_path"])) == pixels(Path(str(made[seed]["path"])))


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_generate_refuses_seeds_outside_64_bits_with_the_range(
    seed: str, tiny_model_dir: Path
) -> None:
    status, out, err = run_cli(
        "generate", "--prompt", "x", "--model", str(tiny_model_dir), "--seed", seed
    )
    assert status == 2
    assert RANGE in err
    assert f"got {seed}" in err
    assert "Traceback" not in err
    assert out == ""


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_rerun_and_list_refuse_seeds_outside_64_bits(seed: str, data_dir: Path) -> None:
    from sd21_desktop.gallery.store import GalleryStore
    from tests.gallery.test_store_support import add

    with GalleryStore.open() as store:
        entry = add(store, "a kite")
    status, _, err = run_cli("rerun", str(entry.id), "--seed", seed, "--device", "cpu")
    assert status == 2
    assert RANGE in err
    status, _, err = run_cli("gallery", "list", "--seed", seed)
    assert status == 2
    assert RANGE in err
