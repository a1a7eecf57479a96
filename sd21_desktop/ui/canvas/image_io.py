"""Reading pictures for the canvas: files through Pillow, QImages, clipboard and drop data.

Every picture ends up as a QImage in ``Format_RGB888`` (opaque) or ``Format_RGBA8888`` (with
alpha), whatever it came as: greyscale, 1-bit, palette (with or without a transparent index),
16-bit greyscale, 32-bit integer or float greyscale, CMYK (through its ICC profile when it has
one), with EXIF rotation applied. Files that are not images raise
:class:`~sd21_desktop.errors.UserFacingError` with a message that says what to do.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

from sd21_desktop.engine.inputs import normalize_image, read_image_file
from sd21_desktop.errors import UserFacingError
from sd21_desktop.qt import images as qt_images

SUPPORTED_HINT = "Choose a PNG, JPEG, WebP, BMP, TIFF or GIF image."


def to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Convert any Pillow image to ``RGB``, or ``RGBA`` when it carries transparency.

    The decoding rules (16-bit and float greyscale, ICC profiles, CMYK) are the engine's, so the
    canvas shows exactly the pixels a pipeline will get.
    """
    image = normalize_image(image)
    if image.mode == "L":
        return image.convert("RGB")
    if image.mode == "LA":
        return image.convert("RGBA")
    return image


def pil_to_qimage(image: Image.Image) -> QImage:
    """A QImage (RGB888 / RGBA8888) holding its own copy of a Pillow image's pixels."""
    return qt_images.pil_to_qimage(to_rgb_or_rgba(image))


def normalize_qimage(image: QImage) -> QImage:
    """Any QImage (greyscale, 16-bit, indexed, premultiplied...) as RGB888 or RGBA8888."""
    if image.isNull():
        raise UserFacingError(
            "The picture is empty (0 x 0 pixels).", "Load or paste an image with some content."
        )
    fmt = QImage.Format.Format_RGBA8888 if image.hasAlphaChannel() else QImage.Format.Format_RGB888
    return image.convertToFormat(fmt) if image.format() != fmt else image.copy()


def load_image_file(path: str | Path) -> QImage:
    """Decode an image file with Pillow into an RGB888 / RGBA8888 QImage.

    The engine's reader decodes it (EXIF rotation, 16-bit, ICC, CMYK), so the canvas shows what
    a pipeline will get; it raises UserFacingError naming the file and what to do.
    """
    return pil_to_qimage(read_image_file(path))


def local_image_paths(mime: QMimeData) -> list[Path]:
    """Local files among dragged or pasted URLs, in order."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


def remote_urls(mime: QMimeData) -> list[QUrl]:
    if not mime.hasUrls():
        return []
    return [url for url in mime.urls() if not url.isLocalFile()]


def mime_may_hold_image(mime: QMimeData) -> bool:
    """Whether a drag or a paste could give the canvas a picture (checked fully on drop)."""
    return mime.hasImage() or bool(local_image_paths(mime))


def image_from_mime(mime: QMimeData) -> QImage:
    """The picture in clipboard or drop data: a local file first (decoded with full fidelity by
    Pillow), else the raw image data; raises UserFacingError when there is none."""
    paths = local_image_paths(mime)
    if paths:
        return load_image_file(paths[0])
    if mime.hasImage():
        data = mime.imageData()
        if isinstance(data, QImage) and not data.isNull():
            return normalize_qimage(data)
    if remote_urls(mime):
        raise UserFacingError(
            "Only local image files can be dropped here, not web addresses.",
            "Save the image to disk first, or copy the image itself and paste it.",
        )
    raise UserFacingError(
        "The clipboard or the dropped item holds no image.",
        "Copy an image (or an image file) and try again.",
    )
