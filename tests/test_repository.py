"""The repository stands alone: nothing reads beside it, and every borrowed test image says
where it comes from and under which licence."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import FIXTURE_IMAGES, REPO_ROOT

# Spelled in pieces so that this file does not match itself.
OUTSIDE = re.compile(r"\.\./" + r"shared|parent\s*/\s*[\"']" + r"shared[\"']")
CHECKED_FOLDERS = ("sd21_desktop", "tests", "tools", "bench", "packaging")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def _text_files() -> list[Path]:
    files = [REPO_ROOT / "dev.py"]
    for folder in CHECKED_FOLDERS:
        files += [
            path
            for path in (REPO_ROOT / folder).rglob("*")
            if path.suffix in {".py", ".toml", ".spec", ".sh", ".cfg", ".ini"}
        ]
    return files


def test_no_code_reads_a_folder_beside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in _text_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_the_pattern_catches_what_it_is_for() -> None:
    assert OUTSIDE.search('ROOT.parent / "' + 'shared" / "fixtures"')
    assert OUTSIDE.search("see ../" + "shared/fixtures")
    assert not OUTSIDE.search("shared_memory = True")


def test_every_fixture_image_has_a_licence_and_an_origin() -> None:
    manifest = (FIXTURE_IMAGES / "MANIFEST.md").read_text(encoding="utf-8")
    readme = (FIXTURE_IMAGES / "README.md").read_text(encoding="utf-8")
    images = [p for p in FIXTURE_IMAGES.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    assert len(images) > 40
    for path in images:
        tag = path.name.split("__")[0]
        licence = FIXTURE_IMAGES / "LICENSES" / f"{tag}.txt"
        assert licence.is_file(), path
        assert licence.read_text(encoding="utf-8").startswith("MIT License\n\nCopyright (c) ")
        assert f"`{tag}`" in readme, path
        assert f"`images/{path.relative_to(FIXTURE_IMAGES).as_posix()}`" in manifest, path
