"""Photos for the tests: the astronaut shipped in the package, drawn ones, and encoders."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from humancut.bench import photos

# The astronaut ships inside the package (the bench generates its sizes from it): one copy.
ASTRONAUT = Path(str(photos.ASTRONAUT))
FIXTURES = ASTRONAUT.parent
SHARED_EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "eval"


def encode(img: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def landscape(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo with no person in it: a smooth sky-to-grass gradient."""
    w, h = size
    y = np.linspace(0, 1, h)[:, None, None]
    sky, grass = np.array([120, 170, 230]), np.array([60, 140, 50])
    rows = (sky * (1 - y) + grass * y).astype(np.uint8)
    return Image.fromarray(np.broadcast_to(rows, (h, w, 3)).copy())


def photo(size: tuple[int, int] = (200, 100), box: tuple[int, int, int, int] = (50, 20, 150, 80),
          fmt: str = "PNG") -> bytes:
    """A grey photo with a red "person" filling `box` (left, top, right, bottom): what
    inproc.RedModel cuts out exactly."""
    img = Image.new("RGB", size, (128, 128, 128))
    img.paste((255, 0, 0), box)
    return encode(img, fmt)


def png_header_only(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    """A PNG that declares a size but whose pixels are a tiny zlib stream of zeros."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) +
            chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b""))
