"""PNG writing: a small numpy + ISA-L writer, or Pillow's.

On a 1 MP RGBA cut-out Pillow's zlib level 1 takes about 80 ms of CPU, a large share of a
fast pipeline; the Up filter in numpy and ISA-L's deflate (level 1) take about 11 ms and
give a smaller file (docs/performance.md#png-encoding). Pillow stays the fallback and the
writer of modes we do not handle (palette, 16-bit).
"""

from __future__ import annotations

import io
import struct
import zlib
from types import ModuleType

import numpy as np
from PIL import Image

ENCODERS = ("isal", "pillow")
_COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}  # mode: (PNG colour type, bytes)
_SIGNATURE = b"\x89PNG\r\n\x1a\n"

isal_zlib: ModuleType | None
try:
    from isal import isal_zlib
except ImportError:  # an optional speed-up: Pillow writes the PNGs without it
    isal_zlib = None


def encode(img: Image.Image, compress_level: int = 1, encoder: str = "isal") -> bytes:
    """`img` as PNG bytes. `compress_level` is zlib's 0-9 for Pillow, ISA-L's 0-3 for isal
    (higher is clamped to 3)."""
    if encoder not in ENCODERS:
        raise ValueError(f"png encoder must be one of {', '.join(ENCODERS)}, not {encoder!r}")
    if encoder == "isal" and isal_zlib is not None and img.mode in _COLOUR_TYPES:
        return encode_array(np.asarray(img), img.mode, min(compress_level, 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_array(pixels: np.ndarray, mode: str, level: int) -> bytes:
    """8-bit L, RGB or RGBA pixels as a PNG: every row Up-filtered (the row minus the one
    above, which suits photos' vertical coherence), one IDAT chunk deflated by ISA-L."""
    if isal_zlib is None:
        raise RuntimeError("encode_array needs the isal package (encode falls back to Pillow)")
    colour_type, channels = _COLOUR_TYPES[mode]
    h, w = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(h, w * channels)
    raw = np.empty((h, w * channels + 1), np.uint8)
    raw[:, 0] = 2  # Up
    raw[0, 0] = 0  # None for the first row (Up of nothing is the row itself anyway)
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # uint8 wraps around, as PNG wants
    head = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (_SIGNATURE + _chunk(b"IHDR", head)
            + _chunk(b"IDAT", isal_zlib.compress(raw.tobytes(), level))
            + _chunk(b"IEND", b""))


class Writer:
    """The same PNG as encode_array, written a band of rows at a time: only the band and
    the deflated bytes so far are held, never the whole filtered image (a 36 MP RGBA
    cut-out would need 144 MB for that, twice)."""

    def __init__(self, width: int, height: int, mode: str, level: int = 1):
        if isal_zlib is None:
            raise RuntimeError("png.Writer needs the isal package")
        self.width, self.height, self.mode = width, height, mode
        self.colour_type, self.channels = _COLOUR_TYPES[mode]
        self._deflate = isal_zlib.compressobj(min(level, 3))
        self._out = bytearray()
        self._last: np.ndarray | None = None  # the previous band's last row, for Up
        self._rows = 0

    def write(self, pixels: np.ndarray) -> None:
        """The next rows (h, width[, channels]) uint8, top to bottom."""
        h = pixels.shape[0]
        rows = np.ascontiguousarray(pixels, dtype=np.uint8).reshape(h, self.width * self.channels)
        raw = np.empty((h, rows.shape[1] + 1), np.uint8)
        raw[:, 0] = 2  # Up
        if self._last is None:
            raw[0, 0] = 0
            raw[0, 1:] = rows[0]
        else:
            np.subtract(rows[0], self._last, out=raw[0, 1:])
        np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
        self._last = rows[-1].copy()
        self._rows += h
        self._out += self._deflate.compress(raw)

    def finish(self) -> bytes:
        if self._rows != self.height:
            raise ValueError(f"png.Writer got {self._rows} rows of {self.height}")
        idat, self._out = self._out, bytearray()
        idat += self._deflate.flush()
        head = struct.pack(">IIBBBBB", self.width, self.height, 8, self.colour_type, 0, 0, 0)
        crc = zlib.crc32(idat, zlib.crc32(b"IDAT")) & 0xFFFFFFFF
        # one join: the deflated bytes are copied once, not once per concatenation
        return b"".join((_SIGNATURE, _chunk(b"IHDR", head), struct.pack(">I", len(idat)),
                         b"IDAT", idat, struct.pack(">I", crc), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
