"""Small but valid image files, built from scratch so the tests need no image library or binary."""

from __future__ import annotations

import struct
import zlib


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_bytes(min_size: int = 0) -> bytes:
    """A baseline 16x16 grey JPEG (the smallest a bot takes as a picture: bot.imaging.fit's
    MIN_SIDE); COM segments pad it to at least `min_size` bytes.

    Four 8x8 blocks, each with DC difference 0 and an immediate end-of-block: both Huffman tables
    hold a single 1-bit code, so each block is the two bits `00` and the scan one zero byte.
    """
    parts = [b"\xff\xd8"]
    parts.append(_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"))
    parts.append(_segment(0xDB, b"\x00" + b"\x01" * 64))
    parts.append(_segment(0xC0, b"\x08\x00\x10\x00\x10\x01\x01\x11\x00"))
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"
    parts.append(_segment(0xC4, b"\x00" + one_code))  # DC table 0: category 0
    parts.append(_segment(0xC4, b"\x10" + one_code))  # AC table 0: end of block
    body = b"".join(parts)
    while len(body) + 16 < min_size:
        chunk = min(65533, max(1, min_size - len(body) - 16))
        body += _segment(0xFE, b"p" * chunk)
    body += _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00" + b"\xff\xd9"
    return body


def png_bytes() -> bytes:
    """A 16x16 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 16, 16, 8, 0, 0, 0, 0)
    pixels = zlib.compress((b"\x00" + b"\xff" * 16) * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A decompression bomb: a few hundred bytes whose header claims `width` x `height` pixels
    (10 gigapixels by default) of a single colour, deflated to almost nothing."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * width
    pixels = zlib.compress(row * 16, 9)  # the start of the image: enough to look real
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
