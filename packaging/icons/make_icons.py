#!/usr/bin/env python3
"""Draw the SD21 Desktop app icon and write every size the installers need.

    python packaging/icons/make_icons.py     # rewrites the PNGs, .ico and .icns beside this file

The icon is drawn with Pillow alone (no font, no network): a rounded tile with a dusk sky, a sun,
two hills and a four-pointed spark, drawn at 1024 px and scaled down. The output is committed, so
builds do not need to run this; it is kept so that the icon can be changed and regenerated.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
BASE = 1024


def _vertical_gradient(
    size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]
) -> Image.Image:
    column = Image.new("RGB", (1, size))
    for y in range(size):
        t = y / (size - 1)
        column.putpixel(
            (0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=False))
        )
    return column.resize((size, size))


def draw(size: int = BASE) -> Image.Image:
    s = size / 1024
    tile = _vertical_gradient(size, (40, 30, 92), (236, 112, 99)).convert("RGBA")
    art = ImageDraw.Draw(tile)
    # the sun, low on the horizon
    art.ellipse([int(560 * s), int(300 * s), int(820 * s), int(560 * s)], fill=(255, 214, 120))
    # two hills in front of it
    art.polygon(
        [
            (0, int(700 * s)),
            (int(330 * s), int(470 * s)),
            (int(700 * s), int(760 * s)),
            (int(1024 * s), int(620 * s)),
            (int(1024 * s), size),
            (0, size),
        ],
        fill=(58, 40, 110),
    )
    art.polygon(
        [
            (0, int(860 * s)),
            (int(420 * s), int(700 * s)),
            (int(1024 * s), int(880 * s)),
            (int(1024 * s), size),
            (0, size),
        ],
        fill=(28, 20, 64),
    )
    # a four-pointed spark: the "generated" mark
    cx, cy, r, w = 300 * s, 290 * s, 170 * s, 38 * s
    spark = [
        (cx, cy - r),
        (cx + w, cy - w),
        (cx + r, cy),
        (cx + w, cy + w),
        (cx, cy + r),
        (cx - w, cy + w),
        (cx - r, cy),
        (cx - w, cy - w),
    ]
    art.polygon([(round(x), round(y)) for x, y in spark], fill=(255, 255, 255))
    # round the corners
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        [0, 0, size - 1, size - 1], radius=int(200 * s), fill=255
    )
    mask = mask.filter(ImageFilter.GaussianBlur(max(1, size // 512)))
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    icon.paste(tile, (0, 0), mask)
    return icon


def main() -> None:
    big = draw(BASE)
    for px in PNG_SIZES:
        big.resize((px, px), Image.Resampling.LANCZOS).save(
            HERE / f"sd21-desktop-{px}.png", optimize=True
        )
    big.resize((256, 256), Image.Resampling.LANCZOS).save(
        HERE / "sd21-desktop.ico", sizes=[(px, px) for px in ICO_SIZES]
    )
    big.save(HERE / "sd21-desktop.icns")
    print(f"wrote icons to {HERE}")


if __name__ == "__main__":
    main()
