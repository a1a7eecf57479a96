"""Mask options: grow/shrink, feather, the effective mask, brush rasterisation (mostly Qt-free)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from PySide6.QtCore import Qt

from sd21_desktop.ui.canvas import mask_ops
from sd21_desktop.ui.canvas.brush import BrushSample, paint_segment, step_size
from sd21_desktop.ui.canvas.geometry import PixelRect
from sd21_desktop.ui.mask_canvas import MaskCanvas
from tests.ui.test_mask_canvas_support import make_canvas, stroke


def _disc_reference(mask: np.ndarray, radius: int) -> np.ndarray:
    """Brute-force grey dilation by a disc, outside = 0."""
    height, width = mask.shape
    padded = np.zeros((height + 2 * radius, width + 2 * radius), dtype=np.uint8)
    padded[radius : radius + height, radius : radius + width] = mask
    out = np.zeros_like(mask)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius:
                window = padded[
                    radius + dy : radius + dy + height, radius + dx : radius + dx + width
                ]
                np.maximum(out, window, out=out)
    return out


def test_grow_turns_a_pixel_into_a_disc() -> None:
    mask = np.zeros((41, 41), dtype=np.uint8)
    mask[20, 20] = 255
    grown = mask_ops.grow_shrink(mask, 5)
    ys, xs = np.mgrid[0:41, 0:41]
    expected = np.where((xs - 20) ** 2 + (ys - 20) ** 2 <= 25, 255, 0)
    np.testing.assert_array_equal(grown, expected)
    assert grown[20, 25] == 255
    assert grown[20, 26] == 0
    assert grown[23, 24] == 255  # distance 5
    assert grown[24, 24] == 0  # distance 5.66


@pytest.mark.parametrize("radius", [1, 2, 3, 7, 12])
def test_dilate_matches_brute_force_on_grey_masks(radius: int) -> None:
    rng = np.random.default_rng(radius)
    mask = (rng.random((37, 53)) < 0.03).astype(np.uint8) * rng.integers(1, 256, (37, 53)).astype(
        np.uint8
    )
    np.testing.assert_array_equal(mask_ops.dilate(mask, radius), _disc_reference(mask, radius))


def test_shrink_square_by_disc() -> None:
    mask = np.zeros((40, 40), dtype=np.uint8)
    mask[10:31, 10:31] = 255  # 21 x 21
    shrunk = mask_ops.grow_shrink(mask, -3)
    expected = np.zeros_like(mask)
    expected[13:28, 13:28] = 255  # 15 x 15
    np.testing.assert_array_equal(shrunk, expected)


def test_shrink_keeps_masks_that_touch_the_border() -> None:
    mask = np.zeros((30, 30), dtype=np.uint8)
    mask[:, :12] = 255
    shrunk = mask_ops.grow_shrink(mask, -4)
    assert shrunk[:, :8].all()  # still reaches the left edge, top and bottom rows included
    assert not shrunk[:, 8:].any()


def test_full_mask_survives_shrink_and_empty_survives_grow() -> None:
    full = np.full((20, 20), 255, dtype=np.uint8)
    np.testing.assert_array_equal(mask_ops.effective_mask(full, -6, 0.0), full)
    empty = np.zeros((20, 20), dtype=np.uint8)
    assert not mask_ops.effective_mask(empty, 6, 3.0).any()


def test_feather_blurs_edges_only() -> None:
    mask = np.zeros((100, 100), dtype=np.uint8)
    mask[20:80, 20:80] = 255
    soft = mask_ops.feather(mask, 4.0)
    assert soft[50, 50] == 255  # deep inside: unchanged
    assert soft[5, 5] == 0  # far outside: unchanged
    edge = soft[50, 12:28]
    assert 0 < edge[8] < 255  # on the edge: in between
    assert all(a <= b for a, b in zip(edge, edge[1:], strict=False))
    assert abs(int(soft.sum()) - int(mask.sum())) < 0.01 * int(mask.sum())


def test_effective_mask_is_grow_then_feather() -> None:
    mask = np.zeros((64, 64), dtype=np.uint8)
    mask[30:34, 20:44] = 255
    grown = _disc_reference(mask, 6)
    reference = np.asarray(
        Image.fromarray(grown, mode="L").filter(ImageFilter.GaussianBlur(3.0)), dtype=np.uint8
    )
    np.testing.assert_array_equal(mask_ops.effective_mask(mask, 6, 3.0), reference)


@pytest.mark.parametrize(("grow", "feather"), [(0, 0.0), (5, 0.0), (-4, 0.0), (0, 3.0), (7, 2.5)])
def test_effective_region_equals_whole_mask_crop(grow: int, feather: float) -> None:
    rng = np.random.default_rng(abs(grow) + int(feather * 10))
    mask = np.zeros((120, 150), dtype=np.uint8)
    for _ in range(12):
        x, y = rng.integers(0, 150), rng.integers(0, 120)
        mask[max(0, y - 8) : y + 8, max(0, x - 15) : x + 15] = rng.integers(100, 256)
    whole = mask_ops.effective_mask(mask, grow, feather)
    for rect in (
        PixelRect(30, 20, 70, 60),
        PixelRect(0, 0, 25, 120),
        PixelRect(140, 100, 160, 130),
    ):
        clipped = rect.intersected(PixelRect.full(150, 120))
        rows, cols = clipped.slices()
        region = mask_ops.effective_region(mask, rect, grow, feather)
        np.testing.assert_array_equal(region, whole[rows, cols])


def test_hard_segment_paints_only_0_and_255() -> None:
    mask = np.zeros((50, 80), dtype=np.uint8)
    boxes = paint_segment(
        mask, BrushSample(10.3, 20.7, 6.2), BrushSample(70.1, 30.2, 6.2), hardness=1.0
    )
    assert boxes
    assert set(np.unique(mask)) == {0, 255}
    union = boxes[0]
    for box in boxes[1:]:
        union = union.union(box)
    rows, cols = union.slices()
    assert mask[rows, cols].sum() == mask.sum()  # every painted pixel is inside the boxes


def test_long_segment_equals_dabs_along_it() -> None:
    """Cutting a long segment into pieces gives the same pixels as one capsule."""
    mask = np.zeros((300, 300), dtype=np.uint8)
    paint_segment(mask, BrushSample(5, 5, 9), BrushSample(290, 250, 9), hardness=0.4)
    ys, xs = np.mgrid[0:300, 0:300].astype(np.float64) + 0.5
    dx, dy = 285.0, 245.0
    t = np.clip(((xs - 5) * dx + (ys - 5) * dy) / (dx * dx + dy * dy), 0, 1)
    dist = np.hypot(xs - 5 - t * dx, ys - 5 - t * dy)
    u = np.clip((dist / 9 - 0.4) / 0.6, 0, 1)
    expected = np.rint((1 - u * u * (3 - 2 * u)) * 255)
    assert np.abs(mask.astype(int) - expected.astype(int)).max() <= 1


def test_segment_off_the_image_paints_nothing() -> None:
    mask = np.zeros((20, 20), dtype=np.uint8)
    assert paint_segment(mask, BrushSample(-50, -50, 5), BrushSample(-30, -40, 5), hardness=1) == []
    assert not mask.any()


def test_brush_size_steps() -> None:
    assert step_size(1, up=True) == 2
    assert step_size(1, up=False) == 1
    assert step_size(100, up=True) == 115
    assert step_size(100, up=False) == 87


def test_canvas_mask_options(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    signals: list[None] = []
    canvas.mask_options_changed.connect(lambda: signals.append(None))
    canvas.set_brush_size(10)
    stroke(canvas, [(100, 100), (160, 100)])
    raw = canvas.mask_array()
    np.testing.assert_array_equal(canvas.effective_mask(), raw)

    canvas.grow = 6
    canvas.feather = 2.0
    assert (canvas.grow, canvas.feather) == (6, 2.0)
    assert len(signals) == 2
    np.testing.assert_array_equal(canvas.effective_mask(), mask_ops.effective_mask(raw, 6, 2.0))
    np.testing.assert_array_equal(canvas.mask_array(), raw)  # options never touch the painting
    assert canvas.effective_mask()[100, 130] == 255
    assert 0 < canvas.effective_mask()[111, 130] < 255

    canvas.set_grow(-2)
    canvas.set_feather(0)
    shrunk = canvas.effective_mask()
    assert shrunk.sum() < raw.sum()
    assert shrunk[100, 130] == 255
    canvas.set_grow(-1000)
    assert canvas.grow == -256
    canvas.set_feather(-1)
    assert canvas.feather == 0.0


def test_effective_preview_follows_strokes_and_undo(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    canvas.set_grow(4)
    canvas.set_feather(1.5)
    canvas.set_show_effective_mask(True)
    canvas.set_brush_size(8)
    stroke(canvas, [(50, 50), (90, 70)])
    stroke(canvas, [(200, 150)], button=Qt.MouseButton.LeftButton)
    canvas.undo()
    # The preview overlay must equal a fresh full computation (checked through its alpha).
    overlay = canvas._overlay  # noqa: SLF001 - white-box check of the cached overlay
    assert overlay is not None
    alpha = (
        np.frombuffer(overlay.image.constBits(), dtype=np.uint32).reshape(200, 300) >> 24
    ).astype(np.uint8)
    expected = np.rint(canvas.effective_mask() * canvas.overlay_opacity()).astype(np.uint8)
    np.testing.assert_array_equal(alpha, expected)
