"""Input images, masks and depth maps: reading user files; the content-addressed folder.

Reading a file (:func:`read_image_file`) gives an 8-bit image in one of the modes ``L``, ``LA``,
``RGB`` or ``RGBA``, whatever the file held: EXIF orientation applied; 1-bit, palette (with or
without a transparent index), 16-bit, 32-bit integer and float greyscale scaled to 8 bits with the
full range kept; CMYK and other colour spaces converted to sRGB (through the embedded ICC profile
when there is one, as the mask canvas does). Anything that is not a readable image raises
:class:`~sd21_desktop.errors.UserFacingError` ("X is not an image (…)").

From there:

* **init image** (:func:`to_init_image`): ``RGB``. Transparent pixels are flattened onto **white**,
  the default background of AUTOMATIC1111's img2img (``img2img_background_color = #ffffff``), so
  an RGBA cut-out gives the same start in both tools. (For inpainting, a cut-out's transparency
  can serve as the mask: :func:`mask_from_transparency`.)
* **mask** (:func:`to_mask_image`): ``L``, 255 = repaint, 0 = keep, values between blend. The rule:

  1. no alpha channel, or an alpha that is the same everywhere (e.g. a fully opaque RGBA
     export): the mask is the luminance (ITU-R 601) of the colours;
  2. an alpha that varies, over colours that are all the same wherever alpha > 0 (strokes of one
     colour, white or black, painted on a transparent layer): the mask is the alpha;
  3. an alpha that varies over varying colours: the colours composited onto black, as luminance
     (so a white-on-black mask with transparent parts keeps its meaning, transparent = keep).
* **depth map** (:func:`to_depth_image`): ``L``, white = near (as MiDaS/DPT estimators draw it),
  the grey values of the file (luminance of a colour file; alpha ignored).

The folder (:class:`InputImages`) keeps each input once, as a lossless PNG whose file name is its
id: ``sha256(b"sd21-desktop-input-v1 <mode> <width> <height>\\n" + image.tobytes())`` in lower-case
hex, where ``<mode>`` is ``RGB`` (images) or ``L`` (masks) and ``tobytes()`` is Pillow's raw
pixel data, rows top to bottom, channels interleaved. The id depends only on the pixels, never on
the PNG encoder (zlib builds differ between Pillow versions), so saving the same picture again —
from any file format, on any machine — gives the same id and no second file. A generation request
names its inputs by these ids; the gallery uses the same folder (``paths.inputs_dir``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from sd21_desktop.errors import UserFacingError

HASH_PREFIX = b"sd21-desktop-input-v1"
INIT_MODE, MASK_MODE = "RGB", "L"
INIT_BACKGROUND = (255, 255, 255)
SUPPORTED_HINT = "Choose a PNG, JPEG, WebP, BMP, TIFF or GIF image."
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"LA", "RGBA"})


# -- decoding -------------------------------------------------------------------------------


def _greyscale_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float greyscale to 8-bit ``L`` with the full range kept."""
    values = np.asarray(image)
    if image.mode in _SIXTEEN_BIT_MODES:
        scaled = values.astype(np.float64) / 257.0
    elif image.mode == "F":
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 0.0
        scaled = np.nan_to_num(values.astype(np.float64)) * (255.0 if top <= 1.0 else 1.0)
    else:  # "I": 32-bit signed; most often 16-bit data that a decoder widened
        top = int(values.max()) if values.size else 0
        if top <= 255:
            scaled = values.astype(np.float64)
        elif top <= 65535:
            scaled = values.astype(np.float64) / 257.0
        else:
            scaled = values.astype(np.float64) * (255.0 / top)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _to_srgb(image: Image.Image) -> Image.Image:
    """Apply an embedded non-sRGB ICC profile (always for CMYK); else leave the image as it is."""
    icc = image.info.get("icc_profile")
    if not icc:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(source) or ""
        if image.mode != "CMYK" and "srgb" in description.lower():
            return image
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        base = image.convert("RGB") if image.mode == "RGBA" else image
        converted = ImageCms.profileToProfile(
            base, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    if converted is None:  # pragma: no cover - only with inPlace=True
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def normalize_image(image: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit ``L``, ``LA``, ``RGB`` or ``RGBA`` (a new image)."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in {"I", "F"}:
        image = _greyscale_to_8bit(image)
    if image.mode in {"CMYK", "RGB", "RGBA"}:
        image = _to_srgb(image)
    transparent = "transparency" in image.info
    if image.mode in {"1", "L"}:
        target = "LA" if transparent else "L"
    elif image.mode in {"LA", "La"}:
        target = "LA"
    elif image.mode in {"RGBA", "RGBa", "PA"} or (image.mode in {"P", "RGB"} and transparent):
        target = "RGBA"
    else:  # RGB, P, CMYK without a profile, YCbCr, LAB, HSV, ...
        target = "RGB"
    return image.convert(target) if image.mode != target else image.copy()


def read_image_file(path: str | Path) -> Image.Image:
    """Decode an image file into 8-bit ``L``/``LA``/``RGB``/``RGBA`` with EXIF rotation applied.

    Raises :class:`UserFacingError` naming the file, what went wrong and what to do.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise UserFacingError(f"{path} does not exist.", "Check the path of the image.")
    if path.is_dir():
        raise UserFacingError(f"{path} is a folder, not an image.", SUPPORTED_HINT)
    try:
        with Image.open(path) as opened:
            opened.load()
            transposed = ImageOps.exif_transpose(opened) or opened
            return normalize_image(transposed)
    except UnidentifiedImageError:
        raise UserFacingError(
            f"{path} is not an image (no image format recognised its contents).", SUPPORTED_HINT
        ) from None
    except Image.DecompressionBombError as error:
        raise UserFacingError(
            f"{path} is too large to open safely ({error}).",
            "Scale it down below 89 megapixels in an image editor first.",
        ) from None
    except PermissionError:
        raise UserFacingError(
            f"Cannot read {path}: permission denied.", "Check the file's permissions."
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise UserFacingError(
            f"{path} is not an image that can be read (it could not be decoded: {error}).",
            "The file may be damaged or incomplete; re-save it as PNG and try again.",
        ) from None


# -- init images and masks ------------------------------------------------------------------


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES


def to_init_image(image: Image.Image) -> Image.Image:
    """An ``RGB`` start image: transparency flattened onto white (see the module docstring)."""
    image = normalize_image(image)
    if _has_alpha(image):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*INIT_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert(INIT_MODE)
    return image.convert(INIT_MODE) if image.mode != INIT_MODE else image


def to_mask_image(image: Image.Image) -> Image.Image:
    """An ``L`` mask (255 = repaint) by the three rules of the module docstring."""
    image = normalize_image(image)
    if not _has_alpha(image):
        return image.convert(MASK_MODE) if image.mode != MASK_MODE else image
    alpha = np.asarray(image.getchannel("A"))
    luminance = np.asarray(image.convert("RGB").convert(MASK_MODE))
    if alpha.min() == alpha.max():  # rule 1: a uniform alpha says nothing
        return Image.fromarray(luminance, mode=MASK_MODE)
    visible = luminance[alpha > 0]
    if visible.min() == visible.max():  # rule 2: one colour on a transparent layer
        return Image.fromarray(alpha.copy(), mode=MASK_MODE)
    # Rule 3: composite onto black.
    mixed = (luminance.astype(np.uint32) * alpha + 127) // 255
    return Image.fromarray(mixed.astype(np.uint8), mode=MASK_MODE)


def to_depth_image(image: Image.Image) -> Image.Image:
    """An ``L`` depth map (white = near, as depth estimators draw it): the grey values of the image.

    16-bit and float depth maps keep their full range (scaled to 8 bits, see
    :func:`normalize_image`); colour images are read as their luminance; alpha is ignored.
    """
    image = normalize_image(image)
    if image.mode in ("LA", "RGBA"):
        image = image.convert(image.mode[:-1])
    return image.convert(MASK_MODE) if image.mode != MASK_MODE else image


def mask_from_transparency(image: Image.Image) -> Image.Image | None:
    """For inpainting a cut-out: the transparent part (255 - alpha) as the mask, if it varies."""
    image = normalize_image(image)
    if not _has_alpha(image):
        return None
    alpha = np.asarray(image.getchannel("A"))
    if alpha.min() == alpha.max():
        return None
    return Image.fromarray((255 - alpha).astype(np.uint8), mode=MASK_MODE)


def load_image_file(path: str | Path) -> Image.Image:
    """A user's file as an ``RGB`` init image (see :func:`to_init_image`)."""
    return to_init_image(read_image_file(path))


def load_mask_file(path: str | Path) -> Image.Image:
    """A user's file as an ``L`` mask (see :func:`to_mask_image`)."""
    return to_mask_image(read_image_file(path))


def load_depth_file(path: str | Path) -> Image.Image:
    """A user's file as an ``L`` depth map (see :func:`to_depth_image`)."""
    return to_depth_image(read_image_file(path))


# -- the content-addressed folder -----------------------------------------------------------


def canonical(image: Image.Image) -> Image.Image:
    """What :meth:`InputImages.put` stores: ``RGB`` and ``L`` as they are, ``1`` as ``L``,
    anything else as an init image (:func:`to_init_image`). Convert masks with
    :func:`to_mask_image` first."""
    if image.mode in (INIT_MODE, MASK_MODE):
        return image
    if image.mode == "1":
        return image.convert(MASK_MODE)
    return to_init_image(image)


def content_hash(image: Image.Image) -> str:
    """The id of an image: sha256 over a header and the raw pixels (see the module docstring)."""
    image = canonical(image)
    header = f"{HASH_PREFIX.decode()} {image.mode} {image.width} {image.height}\n".encode("ascii")
    digest = hashlib.sha256(header)
    digest.update(image.tobytes())
    return digest.hexdigest()


def is_input_id(value: object) -> bool:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``."""
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name[:16]}-", suffix=".tmp"
    )
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    if os.name == "posix":  # make the rename itself durable
        with contextlib.suppress(OSError):
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


class InputImages:
    """``folder/<id>``: each input image or mask once, a PNG named by its :func:`content_hash`.

    The files have no suffix (the name is the id, as the gallery's input store names them); a
    file there whose name is instead the sha256 of its *bytes* (any image format) is read too.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path(self, digest: str) -> Path:
        """Where the input with this id lives (it may not exist)."""
        if not is_input_id(digest):
            # Also keeps an id read from a file from naming a path outside the folder.
            raise UserFacingError(
                f"{digest!r} is not an input image id (a sha256 of 64 lower-case hex digits)."
            )
        return self.folder / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, image: Image.Image) -> str:
        """Store ``image`` (see :func:`canonical`) as a lossless PNG; returns its id.

        An input already there is not written again. Raises :class:`UserFacingError` when the
        folder cannot be written.
        """
        image = canonical(image)
        digest = content_hash(image)
        target = self.path(digest)
        if target.is_file():
            return digest
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, buffer.getvalue())
        except OSError as error:
            raise UserFacingError(
                f"Cannot save the input image into {self.folder}: {error.strerror or error}.",
                "Free some disk space or choose a writable folder with --data-dir.",
            ) from error
        return digest

    def get(self, digest: str) -> Image.Image:
        """The stored image (``RGB`` or ``L``), checked against its id."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UserFacingError(
                f"The input image of this entry is gone from {self.folder} (id {digest[:12]}…).",
                "Without it the image cannot be made again; choose the input image again.",
            ) from None
        except OSError as error:
            raise UserFacingError(
                f"Cannot read the input image {path}: {error.strerror or error}."
            ) from error
        damaged = UserFacingError(
            f"The input image {path} is damaged (its pixels no longer match its id).",
            "Choose the input image again.",
        )
        try:
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                image = opened.copy()
        except (OSError, SyntaxError, ValueError):
            raise damaged from None
        if image.mode in (INIT_MODE, MASK_MODE) and content_hash(image) == digest:
            return image
        if hashlib.sha256(data).hexdigest() == digest:  # stored by the sha256 of its bytes
            return normalize_image(ImageOps.exif_transpose(image) or image)
        raise damaged
