"""Text from EXIF tags (JPEG, WebP, PNG ``eXIf``), decoded the way SD tools really write it.

* UserComment (0x9286) starts with an 8-byte charset prefix. Under ``UNICODE\\0`` the text is
  UTF-16, but its byte order does not follow the TIFF header: A1111, Forge and Civitai write
  big-endian even in little-endian files, SwarmUI little-endian. We look at where the zero bytes
  of ASCII characters fall instead.
* ASCII-typed tags (ImageDescription, Make…) often carry UTF-8 bytes; Pillow decodes them as
  Latin-1, so we undo that when the bytes are valid UTF-8.
* ComfyUI's SaveImage+ puts UserComment into IFD0 as an ASCII tag, so IFD0 is searched too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
# Windows "XP" tags: UTF-16LE in a BYTE array.
_XP_TAGS = {0x9C9B: "XPTitle", 0x9C9C: "XPComment", 0x9C9D: "XPAuthor", 0x9C9E: "XPKeywords"}
_NAMES = {
    0x010D: "DocumentName",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x013B: "Artist",
    USER_COMMENT: "UserComment",
    **_XP_TAGS,
}
_UNICODE = b"UNICODE\x00"
_EIGHT_BIT_PREFIXES = (b"ASCII\x00\x00\x00", b"\x00" * 8)
_JIS = b"JIS\x00\x00\x00\x00\x00"
_SAMPLE_BYTES = 4096


@dataclass
class ExifText:
    """Named text tags (``"UserComment"``, ``"Make"``…) plus every text tag under its raw key."""

    named: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _utf8_or(data: bytes, fallback: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode(fallback, errors="replace")


def decode_utf16_guessing_order(data: bytes) -> str:
    """UTF-16 text whose byte order is unknown: ASCII characters put their zero byte first in
    big-endian and second in little-endian, so the side with more zeros tells the order."""
    if data[:2] in (b"\xfe\xff", b"\xff\xfe"):
        order = "utf-16-be" if data[:2] == b"\xfe\xff" else "utf-16-le"
        data = data[2:]
    else:
        sample = data[:_SAMPLE_BYTES]
        zeros_first = sample[0::2].count(0)
        zeros_second = sample[1::2].count(0)
        # Equal counts (pure CJK text, say) fall back to big-endian, what A1111's piexif writes.
        order = "utf-16-le" if zeros_second > zeros_first else "utf-16-be"
    if len(data) % 2:
        data = data[:-1]
    return data.decode(order, errors="replace")


def decode_user_comment(data: bytes) -> str:
    """The text of an EXIF UserComment value (charset prefix + payload)."""
    prefix, payload = data[:8], data[8:]
    if prefix == _UNICODE:
        text = decode_utf16_guessing_order(payload)
    elif prefix in _EIGHT_BIT_PREFIXES:
        text = _utf8_or(payload, "latin-1")
    elif prefix == _JIS:
        text = _utf8_or(payload, "shift_jis")
    else:  # no prefix at all: some writers store the bare text
        text = _utf8_or(data, "latin-1")
    return text.rstrip("\x00")


def fix_ascii_tag(text: str) -> str:
    """Undo Pillow's Latin-1 reading of an ASCII tag that really holds UTF-8 bytes."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _decode_tag(tag: int, value: Any) -> str | None:
    if tag in _XP_TAGS:
        if isinstance(value, tuple) and all(isinstance(v, int) and 0 <= v < 256 for v in value):
            value = bytes(value)
        if isinstance(value, bytes):
            return value.decode("utf-16-le", errors="replace").rstrip("\x00")
        return None
    if isinstance(value, bytes):
        return decode_user_comment(value) if tag == USER_COMMENT else None
    if isinstance(value, str):
        if tag == USER_COMMENT and value[:8].encode("latin-1", errors="replace") in (
            _UNICODE,
            *_EIGHT_BIT_PREFIXES,
        ):
            return decode_user_comment(value.encode("latin-1", errors="replace"))
        return fix_ascii_tag(value)
    return None


def _collect(ifd: Any, label: str, found: ExifText, prefer: bool) -> None:
    for tag, value in list(ifd.items()):
        if not isinstance(tag, int):
            continue
        text = _decode_tag(tag, value)
        if text is None:
            continue
        found.raw[f"exif:{label} 0x{tag:04x}"] = text
        name = _NAMES.get(tag)
        if name and (prefer or name not in found.named):
            found.named[name] = text


def read_exif_text(exif: Image.Exif) -> ExifText:
    """Text tags of IFD0 and the Exif sub-IFD; a damaged sub-IFD is noted, not raised."""
    found = ExifText()
    try:
        _collect(exif, "IFD0", found, prefer=False)
        # The Exif sub-IFD is where UserComment belongs; it wins over an IFD0 copy.
        _collect(exif.get_ifd(EXIF_IFD), "ExifIFD", found, prefer=True)
    except Exception as error:  # Pillow raises many types on corrupt offsets and counts
        found.problems.append(f"The EXIF block is damaged ({type(error).__name__}).")
    return found


def read_exif_bytes(data: bytes) -> ExifText:
    """Text tags from a raw EXIF block (a PNG ``eXIf`` chunk, or ``Exif\\0\\0`` + TIFF)."""
    exif = Image.Exif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on truncated blocks; we report it below
        try:
            exif.load(data)
        except Exception as error:
            return ExifText(problems=[f"The EXIF block is damaged ({type(error).__name__})."])
        return read_exif_text(exif)
