"""Loading pictures into the mask canvas: file formats, errors, QImage formats, drop and paste."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from sd21_desktop.errors import UserFacingError
from sd21_desktop.ui.canvas import image_io
from sd21_desktop.ui.mask_canvas import MaskCanvas
from tests.ui.test_mask_canvas_support import make_canvas


def rgba_at(image: QImage, x: int, y: int) -> tuple[int, int, int, int]:
    color = image.pixelColor(x, y)
    return color.red(), color.green(), color.blue(), color.alpha()


def rgb_at(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    return rgba_at(image, x, y)[:3]


def test_rgb_png(tmp_path: Path) -> None:
    path = tmp_path / "rgb.png"
    image = Image.new("RGB", (40, 30), (10, 200, 30))
    image.putpixel((39, 29), (250, 5, 7))
    image.save(path)
    loaded = image_io.load_image_file(path)
    assert (loaded.width(), loaded.height()) == (40, 30)
    assert loaded.format() == QImage.Format.Format_RGB888
    assert rgb_at(loaded, 0, 0) == (10, 200, 30)
    assert rgb_at(loaded, 39, 29) == (250, 5, 7)


def test_rgba_png_keeps_alpha(tmp_path: Path) -> None:
    path = tmp_path / "rgba.png"
    image = Image.new("RGBA", (20, 10), (255, 0, 0, 255))
    image.putpixel((5, 5), (0, 0, 255, 0))
    image.putpixel((6, 5), (0, 255, 0, 128))
    image.save(path)
    loaded = image_io.load_image_file(path)
    assert loaded.format() == QImage.Format.Format_RGBA8888
    assert loaded.hasAlphaChannel()
    assert rgba_at(loaded, 0, 0) == (255, 0, 0, 255)
    assert rgba_at(loaded, 5, 5)[3] == 0
    assert rgba_at(loaded, 6, 5) == (0, 255, 0, 128)  # not premultiplied


def test_greyscale_and_greyscale_alpha(tmp_path: Path) -> None:
    Image.new("L", (8, 6), 77).save(tmp_path / "grey.png")
    grey = image_io.load_image_file(tmp_path / "grey.png")
    assert grey.format() == QImage.Format.Format_RGB888
    assert (grey.width(), grey.height()) == (8, 6)
    assert rgb_at(grey, 3, 3) == (77, 77, 77)

    Image.new("LA", (8, 6), (200, 50)).save(tmp_path / "grey_alpha.png")
    grey_alpha = image_io.load_image_file(tmp_path / "grey_alpha.png")
    assert rgba_at(grey_alpha, 1, 1) == (200, 200, 200, 50)


def test_sixteen_bit_greyscale_scales_to_eight_bits(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really stored as 16-bit
    loaded = image_io.load_image_file(path)
    assert [rgb_at(loaded, x, 0)[0] for x in range(4)] == [0, 1, 128, 255]
    assert rgb_at(loaded, 3, 0) == (255, 255, 255)


def test_sixteen_bit_tiff_and_32bit_float(tmp_path: Path) -> None:
    values = np.full((5, 7), 51400, dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "grey16.tif")
    assert rgb_at(image_io.load_image_file(tmp_path / "grey16.tif"), 2, 2) == (200, 200, 200)
    floats = np.full((5, 7), 0.5, dtype=np.float32)
    Image.fromarray(floats, mode="F").save(tmp_path / "float.tif")
    assert rgb_at(image_io.load_image_file(tmp_path / "float.tif"), 2, 2) == (128, 128, 128)


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette_image = Image.new("P", (10, 10), 0)
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    palette_image.putpixel((2, 2), 1)
    palette_image.putpixel((3, 3), 2)
    palette_image.save(tmp_path / "palette.png")
    opaque = image_io.load_image_file(tmp_path / "palette.png")
    assert opaque.format() == QImage.Format.Format_RGB888
    assert rgb_at(opaque, 0, 0) == (255, 0, 0)
    assert rgb_at(opaque, 2, 2) == (0, 255, 0)
    assert rgb_at(opaque, 3, 3) == (0, 0, 255)

    palette_image.save(tmp_path / "palette_transparent.png", transparency=1)
    transparent = image_io.load_image_file(tmp_path / "palette_transparent.png")
    assert transparent.format() == QImage.Format.Format_RGBA8888
    assert rgba_at(transparent, 0, 0) == (255, 0, 0, 255)
    assert rgba_at(transparent, 2, 2)[3] == 0

    palette_image.save(tmp_path / "palette.gif", transparency=2)
    gif = image_io.load_image_file(tmp_path / "palette.gif")
    assert rgba_at(gif, 2, 2) == (0, 255, 0, 255)
    assert rgba_at(gif, 3, 3)[3] == 0


def test_cmyk_converts_to_rgb(tmp_path: Path) -> None:
    cmyk = Image.new("CMYK", (12, 8), (0, 255, 255, 0))  # pure red
    cmyk.paste((255, 0, 255, 0), (6, 0, 12, 8))  # pure green on the right half
    cmyk.save(tmp_path / "cmyk.tif")
    loaded = image_io.load_image_file(tmp_path / "cmyk.tif")
    assert loaded.format() == QImage.Format.Format_RGB888
    assert (loaded.width(), loaded.height()) == (12, 8)
    assert rgb_at(loaded, 1, 1) == (255, 0, 0)
    assert rgb_at(loaded, 9, 1) == (0, 255, 0)

    cmyk.save(tmp_path / "cmyk.jpg", quality=95)  # Adobe-style CMYK JPEG (stored inverted)
    jpeg = image_io.load_image_file(tmp_path / "cmyk.jpg")
    red, green, blue = rgb_at(jpeg, 1, 1)
    assert red > 230
    assert green < 25
    assert blue < 25


def test_one_bit_image(tmp_path: Path) -> None:
    image = Image.new("1", (9, 9), 0)
    image.putpixel((4, 4), 1)
    image.save(tmp_path / "bits.png")
    loaded = image_io.load_image_file(tmp_path / "bits.png")
    assert rgb_at(loaded, 4, 4) == (255, 255, 255)
    assert rgb_at(loaded, 0, 0) == (0, 0, 0)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 10, 20))  # white on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    loaded = image_io.load_image_file(tmp_path / "rotated.jpg")
    assert (loaded.width(), loaded.height()) == (20, 40)
    assert rgb_at(loaded, 10, 2)[0] > 200  # the left edge is now on top
    assert rgb_at(loaded, 10, 37)[0] < 50


def test_non_image_file_gives_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a picture\n")
    with pytest.raises(UserFacingError) as caught:
        image_io.load_image_file(path)
    message = str(caught.value)
    assert "notes.txt" in message
    assert "not an image" in message
    assert "PNG" in message  # says what to do


@pytest.mark.parametrize("case", ["missing", "folder", "truncated", "fake-png"])
def test_unreadable_files_give_clear_errors(tmp_path: Path, case: str) -> None:
    if case == "missing":
        path = tmp_path / "nothing.png"
    elif case == "folder":
        path = tmp_path / "a-folder"
        path.mkdir()
    elif case == "truncated":
        path = tmp_path / "cut.png"
        Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "whole.png")
        data = (tmp_path / "whole.png").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path = tmp_path / "fake.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(UserFacingError) as caught:
        image_io.load_image_file(path)
    assert path.name in str(caught.value)
    assert caught.value.hint


def test_canvas_load_image_file_and_failure_keeps_current_image(
    qtbot: object, tmp_path: Path
) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    Image.new("RGB", (64, 32), (9, 8, 7)).save(tmp_path / "ok.png")
    changes: list[None] = []
    canvas.image_changed.connect(lambda: changes.append(None))
    canvas.load_image_file(tmp_path / "ok.png")
    assert changes == [None]
    assert canvas.image_size().width() == 64
    assert canvas.mask_array().shape == (32, 64)
    (tmp_path / "bad.png").write_text("nope")
    with pytest.raises(UserFacingError):
        canvas.load_image_file(tmp_path / "bad.png")
    assert changes == [None]
    assert canvas.image_size().width() == 64


@pytest.mark.parametrize(
    "fmt",
    [
        QImage.Format.Format_Grayscale8,
        QImage.Format.Format_Grayscale16,
        QImage.Format.Format_ARGB32_Premultiplied,
        QImage.Format.Format_RGBA64,
        QImage.Format.Format_Indexed8,
        QImage.Format.Format_Mono,
    ],
)
def test_set_image_normalises_qimage_formats(qtbot: object, fmt: QImage.Format) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    source = QImage(16, 12, QImage.Format.Format_RGB32)
    source.fill(QColor(255, 255, 255))
    converted = source.convertToFormat(fmt)
    canvas.set_image(converted)
    image = canvas.image()
    assert image is not None
    assert image.format() in (QImage.Format.Format_RGB888, QImage.Format.Format_RGBA8888)
    assert (image.width(), image.height()) == (16, 12)
    assert rgb_at(image, 3, 3) == (255, 255, 255)


def test_set_image_rejects_a_null_image(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    with pytest.raises(UserFacingError):
        canvas.set_image(QImage())


def _drop(canvas: MaskCanvas, mime: QMimeData) -> bool:
    actions = Qt.DropAction.CopyAction
    position = QPointF(50.0, 50.0)
    enter = QDragEnterEvent(  # PySide6 < 6.12 takes an integer QPoint here
        position.toPoint(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(canvas, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(
        position, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(canvas, drop)
    return True


def test_drop_image_file(qtbot: object, tmp_path: Path) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    Image.new("RGB", (70, 50), (1, 2, 3)).save(tmp_path / "dropped.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "dropped.png"))])
    assert _drop(canvas, mime)
    assert canvas.image_size().width() == 70
    image = canvas.image()
    assert image is not None
    assert rgb_at(image, 0, 0) == (1, 2, 3)


def test_drop_image_data(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    picture = QImage(33, 22, QImage.Format.Format_ARGB32)
    picture.fill(QColor(0, 0, 255, 255))
    mime = QMimeData()
    mime.setImageData(picture)
    assert _drop(canvas, mime)
    assert canvas.image_size().width() == 33


def test_drop_non_image_reports_failure(qtbot: object, tmp_path: Path) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    (tmp_path / "readme.txt").write_text("hello")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "readme.txt"))])
    failures: list[str] = []
    canvas.image_load_failed.connect(failures.append)
    assert _drop(canvas, mime)
    assert len(failures) == 1
    assert "readme.txt" in failures[0]
    assert canvas.image_size().width() == 300  # the old image stays

    web = QMimeData()
    web.setUrls([QUrl("https://example.com/cat.png")])
    assert _drop(canvas, web)
    assert "web" in failures[1]


def test_drag_of_plain_text_is_refused(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    mime = QMimeData()
    mime.setText("just words")
    assert not _drop(canvas, mime)


def test_paste_image_from_clipboard(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    picture = QImage(45, 35, QImage.Format.Format_RGB32)
    picture.fill(QColor(200, 100, 50))
    QGuiApplication.clipboard().setImage(picture)
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert canvas.image_size().width() == 45
    image = canvas.image()
    assert image is not None
    assert rgb_at(image, 4, 4) == (200, 100, 50)


def test_paste_without_image_reports_failure(qtbot: object) -> None:
    canvas: MaskCanvas = make_canvas(qtbot)
    QGuiApplication.clipboard().setText("no picture here")
    failures: list[str] = []
    canvas.image_load_failed.connect(failures.append)
    assert not canvas.paste_from_clipboard()
    assert failures
    assert "no image" in failures[0]
