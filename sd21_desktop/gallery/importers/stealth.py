"""Stealth metadata hidden in the lowest bits of the pixels (A1111 stealth-pnginfo, NovelAI).

The payload survives tools that strip text chunks. Bits are read column by column (x outer,
y inner), one per pixel from the alpha channel (or three per pixel from R, G, B in the
``rgb`` variants): a 15-byte signature, a 32-bit payload length in bits, then the payload,
gzip-compressed in the ``comp`` variants.
"""

from __future__ import annotations

import gzip
import io
import zlib

import numpy as np
from PIL import Image

_SIGNATURE_BITS = 15 * 8
_LENGTH_BITS = 32
_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
# Reading stealth data decodes every pixel: skip absurdly large images.
MAX_PIXELS = 32 * 1024 * 1024
_ALPHA_SIGNATURES = {b"stealth_pnginfo": False, b"stealth_pngcomp": True}
_RGB_SIGNATURES = {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True}


def _payload(bits: np.ndarray, signatures: dict[bytes, bool]) -> tuple[str, str] | None:
    if bits.size < _SIGNATURE_BITS + _LENGTH_BITS:
        return None
    signature = np.packbits(bits[:_SIGNATURE_BITS]).tobytes()
    if signature not in signatures:
        return None
    length_bits = bits[_SIGNATURE_BITS : _SIGNATURE_BITS + _LENGTH_BITS]
    length = int.from_bytes(np.packbits(length_bits).tobytes(), "big")
    start = _SIGNATURE_BITS + _LENGTH_BITS
    if length <= 0 or length > min(bits.size - start, _MAX_PAYLOAD_BYTES * 8):
        return None
    data = np.packbits(bits[start : start + length]).tobytes()
    if signatures[signature]:
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(_MAX_PAYLOAD_BYTES)
        except (OSError, EOFError, zlib.error):
            return None
    text = data.decode("utf-8", errors="replace")
    return signature.decode("ascii"), text


def read_stealth(image: Image.Image) -> tuple[str, str] | None:
    """(signature, text) of a stealth payload in ``image``, or None. Decodes the pixels."""
    width, height = image.size
    if width * height > MAX_PIXELS or width * height == 0:
        return None
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    pixels = np.asarray(image.convert("RGBA"))
    columns = pixels.transpose(1, 0, 2)  # x outer, y inner: the order the writers use
    if has_alpha:
        found = _payload((columns[:, :, 3] & 1).reshape(-1), _ALPHA_SIGNATURES)
        if found is not None:
            return found
    return _payload((columns[:, :, :3] & 1).reshape(-1), _RGB_SIGNATURES)
