"""Processing sizes for img2img / inpaint inputs and how an input is fitted to one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine.imageprep import (
    aspect_size,
    choose_fit,
    default_size,
    keeps_aspect,
    letterbox_box,
    prepare_inputs,
)
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest


@pytest.mark.parametrize(
    ("input_size", "native", "expected"),
    [
        ((512, 512), 512, (512, 512)),
        ((70, 50), 512, (72, 64)),  # rounded up (64 px minimum): padded, never resampled
        ((500, 333), 512, (504, 336)),
        ((1024, 768), 512, (512, 384)),  # longer side to the native size, aspect kept
        ((1920, 1080), 768, (768, 432)),
        ((768, 1366), 768, (432, 768)),
        ((300, 200), 64, (64, 64)),  # the 64 px minimum wins
        ((4000, 100), 512, (512, 64)),
    ],
)
def test_default_size_caps_to_the_native_size_keeping_aspect(
    input_size: tuple[int, int], native: int, expected: tuple[int, int]
) -> None:
    width, height = default_size(input_size, native)
    assert (width, height) == expected
    assert width % 8 == 0
    assert height % 8 == 0


def test_one_given_side_sets_the_other_by_the_aspect_ratio() -> None:
    assert default_size((1000, 500), 512, width=640) == (640, 320)
    assert default_size((1000, 500), 512, height=256) == (512, 256)
    assert default_size((1000, 500), 512, width=200, height=96) == (200, 96)


@pytest.mark.parametrize(
    ("input_size", "processing", "fit"),
    [
        ((64, 64), (64, 64), "same"),
        ((70, 50), (72, 64), "pad"),
        ((67, 64), (72, 64), "pad"),
        ((20, 10), (64, 64), "pad"),
        ((70, 50), (80, 64), "resize"),  # more than rounding up: scaled
        ((300, 200), (64, 64), "letterbox"),  # another aspect: fitted inside, never stretched
        ((73, 64), (72, 64), "resize"),
        ((1408, 768), (1024, 560), "resize"),
        ((1408, 768), (768, 768), "letterbox"),
        ((768, 1408), (1024, 560), "letterbox"),
    ],
)
def test_choose_fit(input_size: tuple[int, int], processing: tuple[int, int], fit: str) -> None:
    assert choose_fit(input_size, processing) == fit


SIZES = [
    # (picture, SD 2.1 at 768², SD 2.1-base at 512²)
    ((1408, 768), (1024, 560), (688, 376)),
    ((768, 1408), (560, 1024), (376, 688)),
    ((1000, 1000), (768, 768), (512, 512)),
    ((300, 200), (936, 624), (624, 416)),
    ((4096, 512), (2048, 256), (1408, 176)),  # 2.1 would want 2112: the 2048 px side limit
]


@pytest.mark.parametrize(("picture", "sd21", "sd21_base"), SIZES)
def test_the_canvas_size_is_the_picture_at_the_models_pixel_count(
    picture: tuple[int, int], sd21: tuple[int, int], sd21_base: tuple[int, int]
) -> None:
    for native, expected in ((768, sd21), (512, sd21_base)):
        width, height = aspect_size(picture, native)
        assert (width, height) == expected
        assert width % 8 == 0
        assert height % 8 == 0
        assert width * height <= native * native
        assert keeps_aspect(picture, (width, height))


def _store_with(
    folder: Path, image: Image.Image, mask: Image.Image | None = None
) -> tuple[InputImages, dict[str, str]]:
    store = InputImages(folder)
    ids = {"init_image": store.put(image)}
    if mask is not None:
        ids["mask_image"] = store.put(mask)
    return store, ids


def _stripes(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, (x // 16 % 2) * 255], axis=-1)
    return Image.fromarray(pixels.astype(np.uint8), mode="RGB")


@pytest.mark.parametrize(
    ("picture", "size"),
    [
        ((1408, 768), (1024, 560)),
        ((1408, 768), (768, 768)),
        ((300, 200), (64, 64)),
        ((200, 300), (96, 64)),
        ((768, 1408), (768, 560)),
    ],
)
@pytest.mark.parametrize("mode", ["img2img", "inpaint"])
def test_the_pixels_the_pipeline_gets_keep_the_pictures_aspect_ratio(
    picture: tuple[int, int], size: tuple[int, int], mode: str, tmp_path: Path
) -> None:
    image = _stripes(*picture)
    mask = Image.new("L", picture, 255)
    store, ids = _store_with(tmp_path, image, mask if mode == "inpaint" else None)
    request = GenerationRequest(prompt="p", mode=mode, width=size[0], height=size[1], **ids)
    prepared = prepare_inputs(request, store)
    assert prepared.image.size == size
    left, top, box_w, box_h = prepared.box or (0, 0, *size)
    assert keeps_aspect(picture, (box_w, box_h)) or (box_w, box_h) == size == picture
    # the picture itself is in the box: its scaled copy, not a stretched one
    expected = np.asarray(image.resize((box_w, box_h), Image.Resampling.LANCZOS), dtype=int)
    seen = np.asarray(prepared.image, dtype=int)[top : top + box_h, left : left + box_w]
    assert np.abs(seen - expected).max() == 0
    if prepared.box is not None:
        assert any("letterboxed" in notice for notice in prepared.notices)
        assert not any("is stretched" in notice for notice in prepared.notices)
        if mode == "inpaint":  # nothing outside the picture is asked for
            fitted = np.asarray(prepared.mask)
            assert fitted.sum() == 255 * box_w * box_h
    assert prepared.finish(prepared.image).size == picture


def test_a_letterboxed_result_is_cropped_to_the_picture_and_scaled_back(tmp_path: Path) -> None:
    image = Image.new("RGB", (300, 200), (0, 128, 0))
    store, ids = _store_with(tmp_path, image)
    request = GenerationRequest(prompt="p", mode="img2img", width=64, height=64, **ids)
    prepared = prepare_inputs(request, store)
    assert prepared.fit == "letterbox"
    assert prepared.box == letterbox_box((300, 200), (64, 64)) == (0, 10, 64, 43)
    # a result that is red in the bands and the input inside: the bands never reach the output
    result = np.array(prepared.image)
    result[:10] = (255, 0, 0)
    result[53:] = (255, 0, 0)
    back = np.asarray(prepared.finish(Image.fromarray(result)), dtype=int)
    assert back.shape == (200, 300, 3)
    assert back[..., 0].max() == 0
