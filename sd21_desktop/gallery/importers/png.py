"""PNG text chunks read straight from the bytes.

Pillow only reads text chunks that come before the image data unless it decodes every pixel,
and it decodes ``tEXt`` as Latin-1 although Stability Matrix and TensorArt put UTF-8 bytes there.
Walking the chunk list ourselves finds text after ``IDAT`` too (ImageMagick moves it there),
never decodes pixels, and tolerates a truncated or corrupt file by keeping what came before.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Limits that keep a hostile file (a zlib bomb, a million chunks) cheap to reject.
MAX_TEXT_BYTES = 16 * 1024 * 1024
MAX_TEXT_CHUNKS = 1024


@dataclass
class PngText:
    """What the chunk walk found: text chunks in file order, the header size, any EXIF block."""

    texts: list[tuple[str, str, str]] = field(default_factory=list)  # (chunk type, key, text)
    width: int | None = None
    height: int | None = None
    exif: bytes | None = None
    problems: list[str] = field(default_factory=list)


def decode_latin1_or_utf8(data: bytes) -> str:
    """Text of a ``tEXt``/``zTXt`` chunk: UTF-8 when it is valid UTF-8, else Latin-1 as specified.

    Latin-1 text that happens to be valid UTF-8 needs two or more high bytes in a row forming a
    UTF-8 sequence, which real Latin-1 prompts practically never contain.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _inflate(data: bytes) -> bytes | None:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_TEXT_BYTES)
    except zlib.error:
        return None
    if inflater.unconsumed_tail:  # larger than any real metadata: refuse rather than inflate
        return None
    return out


def _text_chunk(kind: bytes, body: bytes) -> tuple[str, str] | None:
    key_bytes, separator, rest = body.partition(b"\x00")
    if not separator or not key_bytes:
        return None
    key = key_bytes.decode("latin-1")
    if kind == b"tEXt":
        return key, decode_latin1_or_utf8(rest)
    if kind == b"zTXt":
        if not rest:
            return None
        inflated = _inflate(rest[1:])  # rest[0] is the method byte; 0 (zlib) is the only one
        return (key, decode_latin1_or_utf8(inflated)) if inflated is not None else None
    # iTXt: flag, method, language\0, translated keyword\0, UTF-8 text
    if len(rest) < 2:
        return None
    compressed = rest[0] == 1
    _, sep1, after_language = rest[2:].partition(b"\x00")
    _, sep2, text = after_language.partition(b"\x00")
    if not (sep1 and sep2):
        return None
    if compressed:
        inflated = _inflate(text)
        if inflated is None:
            return None
        text = inflated
    return key, text.decode("utf-8", errors="replace")


def read_png_text(data: bytes) -> PngText:
    """Every text chunk of a PNG file (``data`` must start with the PNG signature)."""
    found = PngText()
    position = len(PNG_SIGNATURE)
    total = len(data)
    while position + 8 <= total:
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        start = position + 8
        end = start + length
        if end > total:
            found.problems.append("The PNG file is truncated.")
            break
        body = data[start:end]
        position = end + 4  # skip the CRC: a wrong CRC still leaves readable text
        if kind == b"IHDR" and length >= 8:
            found.width = int.from_bytes(body[0:4], "big")
            found.height = int.from_bytes(body[4:8], "big")
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            if len(found.texts) >= MAX_TEXT_CHUNKS:
                continue
            entry = _text_chunk(kind, body)
            if entry is None:
                found.problems.append(f"A damaged {kind.decode()} chunk was skipped.")
            else:
                found.texts.append((kind.decode(), entry[0], entry[1]))
        elif kind == b"eXIf" and found.exif is None:
            found.exif = body
        elif kind == b"IEND":
            break
    return found
