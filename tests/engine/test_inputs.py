"""Reading user images and masks, and the content-addressed inputs folder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.inputs import (
    InputImages,
    content_hash,
    load_image_file,
    load_mask_file,
    mask_from_transparency,
    read_image_file,
)
from sd21_desktop.errors import UserFacingError


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


# -- the folder -----------------------------------------------------------------------------


def test_put_stores_a_png_once_under_the_hash_of_its_pixels(tmp_path: Path) -> None:
    store = InputImages(tmp_path / "inputs")
    image = noise(30, 20)
    digest = store.put(image)
    assert len(digest) == 64
    assert digest == content_hash(image)
    path = store.path(digest)
    assert path.parent == tmp_path / "inputs"
    assert path.read_bytes().startswith(b"\x89PNG")
    assert store.put(image.copy()) == digest
    assert [p.name for p in (tmp_path / "inputs").iterdir()] == [digest]  # no temp files left
    back = store.get(digest)
    assert back.mode == "RGB"
    assert np.array_equal(np.asarray(back), np.asarray(image))


def test_the_id_depends_on_pixels_not_on_the_file_encoding(tmp_path: Path) -> None:
    image = noise(16, 12, seed=3)
    ids = set()
    for level in (0, 9):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=level)
        ids.add(content_hash(Image.open(buffer)))
    buffer = io.BytesIO()
    image.save(buffer, format="BMP")
    ids.add(content_hash(Image.open(buffer)))
    assert ids == {content_hash(image)}
    # Mode and size are part of the id: the same bytes as a mask or another shape differ.
    grey = Image.fromarray(np.zeros((12, 16), dtype=np.uint8))
    assert content_hash(grey) != content_hash(Image.fromarray(np.zeros((16, 12), dtype=np.uint8)))


def test_masks_are_stored_as_greyscale(tmp_path: Path) -> None:
    store = InputImages(tmp_path)
    mask = Image.fromarray(np.tile(np.arange(0, 256, 16, dtype=np.uint8), (8, 1)))
    digest = store.put(mask)
    assert store.get(digest).mode == "L"
    assert np.array_equal(np.asarray(store.get(digest)), np.asarray(mask))
    assert store.put(mask.convert("1")) != digest  # 1-bit becomes L 0/255: other pixels


def test_a_missing_input_says_it_is_gone_from_the_folder(tmp_path: Path) -> None:
    store = InputImages(tmp_path / "inputs")
    with pytest.raises(UserFacingError, match="input image of this entry is gone from"):
        store.get("f" * 64)
    with pytest.raises(UserFacingError, match="not an input image id"):
        store.get("../../etc/passwd")


def test_a_damaged_input_is_reported(tmp_path: Path) -> None:
    store = InputImages(tmp_path)
    digest = store.put(noise(8, 8))
    other = io.BytesIO()
    noise(8, 8, seed=9).save(other, format="PNG")
    store.path(digest).write_bytes(other.getvalue())
    with pytest.raises(UserFacingError, match="damaged"):
        store.get(digest)
    store.path(digest).write_bytes(b"garbage")
    with pytest.raises(UserFacingError, match="damaged"):
        store.get(digest)


def test_files_named_by_the_hash_of_their_bytes_are_read_too(tmp_path: Path) -> None:
    import hashlib

    buffer = io.BytesIO()
    noise(10, 10).save(buffer, format="WEBP", lossless=True)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    (tmp_path / digest).write_bytes(buffer.getvalue())
    assert InputImages(tmp_path).get(digest).size == (10, 10)


# -- reading user files ---------------------------------------------------------------------


def save(image: Image.Image, path: Path, **params: object) -> Path:
    image.save(path, **params)
    return path


def test_rgba_is_flattened_on_white(tmp_path: Path) -> None:
    array = np.zeros((4, 4, 4), dtype=np.uint8)
    array[..., 0] = 200
    array[:, :2, 3] = 255  # left half opaque red, right half fully transparent
    array[:, 2:, 3] = 0
    loaded = load_image_file(save(Image.fromarray(array, "RGBA"), tmp_path / "cut.png"))
    assert loaded.mode == "RGB"
    assert tuple(np.asarray(loaded)[0, 0]) == (200, 0, 0)
    assert tuple(np.asarray(loaded)[0, 3]) == (255, 255, 255)
    mask = mask_from_transparency(read_image_file(tmp_path / "cut.png"))
    assert mask is not None
    assert np.asarray(mask)[0].tolist() == [0, 0, 255, 255]
    assert mask_from_transparency(noise(4, 4)) is None


def test_greyscale_16_bit_palette_and_cmyk_load_as_rgb(tmp_path: Path) -> None:
    grey = load_image_file(save(Image.new("L", (5, 3), 77), tmp_path / "grey.png"))
    assert grey.mode == "RGB"
    assert tuple(np.asarray(grey)[1, 1]) == (77, 77, 77)

    deep = np.full((3, 5), 65535, dtype=np.uint16)
    deep[0, 0] = 257 * 10
    sixteen = load_image_file(save(Image.fromarray(deep), tmp_path / "deep.png"))
    assert sixteen.mode == "RGB"
    assert tuple(np.asarray(sixteen)[0, 0]) == (10, 10, 10)
    assert tuple(np.asarray(sixteen)[2, 4]) == (255, 255, 255)

    palette = noise(6, 6).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.info["transparency"] = 0
    loaded = load_image_file(save(palette, tmp_path / "pal.gif", transparency=0))
    assert loaded.mode == "RGB"
    assert loaded.size == (6, 6)

    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # red in CMYK
    red = np.asarray(load_image_file(save(cmyk, tmp_path / "cmyk.jpg", quality=95)))
    assert red.shape == (4, 4, 3)
    assert red[0, 0, 0] > 200
    assert red[0, 0, 1] < 60


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = noise(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = save(image, tmp_path / "rotated.jpg", exif=exif.tobytes(), quality=95)
    assert load_image_file(path).size == (20, 40)


def test_non_images_and_missing_files_raise_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    with pytest.raises(UserFacingError, match=r"notes.txt is not an image \("):
        load_image_file(text)
    truncated = tmp_path / "cut.png"
    buffer = io.BytesIO()
    noise(64, 64).save(buffer, format="PNG")
    truncated.write_bytes(buffer.getvalue()[:200])
    with pytest.raises(UserFacingError, match="is not an image"):
        load_image_file(truncated)
    with pytest.raises(UserFacingError, match="does not exist"):
        load_mask_file(tmp_path / "gone.png")
    with pytest.raises(UserFacingError, match="is a folder"):
        load_image_file(tmp_path)


def rgba(colour: np.ndarray, alpha: np.ndarray) -> Image.Image:
    return Image.fromarray(np.dstack([colour, colour, colour, alpha]).astype(np.uint8), "RGBA")


def test_mask_rules(tmp_path: Path) -> None:
    alpha = np.zeros((4, 6), dtype=np.uint8)
    alpha[1:3, 2:5] = 255
    alpha[0, 0] = 128
    for colour_value in (0, 255):  # strokes of one colour on a transparent layer: the alpha
        colour = np.full((4, 6), colour_value, dtype=np.uint8)
        mask = load_mask_file(save(rgba(colour, alpha), tmp_path / f"strokes{colour_value}.png"))
        assert mask.mode == "L"
        assert np.array_equal(np.asarray(mask), alpha)

    white_on_black = np.zeros((4, 6), dtype=np.uint8)
    white_on_black[:, 3:] = 255
    opaque = rgba(white_on_black, np.full((4, 6), 255, dtype=np.uint8))  # a uniform alpha
    loaded = load_mask_file(save(opaque, tmp_path / "o.png"))
    assert np.array_equal(np.asarray(loaded), white_on_black)

    half = np.full((4, 6), 255, dtype=np.uint8)
    half[:, :2] = 0  # varying colour and alpha: composited onto black
    mixed = load_mask_file(save(rgba(white_on_black, half), tmp_path / "mixed.png"))
    assert np.array_equal(np.asarray(mixed), white_on_black)

    grey = Image.fromarray(white_on_black, "L")
    loaded = load_mask_file(save(grey, tmp_path / "g.png"))
    assert np.array_equal(np.asarray(loaded), white_on_black)
