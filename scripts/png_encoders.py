"""PNG encoders on a 1 MP RGBA cut-out of the astronaut: CPU time and size.

    PYTHONPATH=src .venv/bin/python scripts/png_encoders.py

Encoders that are not installed are skipped (fpng, imagecodecs, isal are not humancut
dependencies). Every output is decoded with Pillow and must give the same pixels.
"""

from __future__ import annotations

import io
import statistics
import struct
import time
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

from humancut import Remover, Settings, png
from humancut.bench.photos import ASTRONAUT, scaled_jpeg

Encoder = Callable[[np.ndarray], bytes]


def pillow(level: int) -> Encoder:
    def encode(rgba: np.ndarray) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=level)
        return buf.getvalue()
    return encode


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def hand_png(compress: Callable[[bytes], bytes], up: bool) -> Encoder:
    """A minimal PNG writer: filter None (or Up, computed in numpy) for every row."""
    def encode(rgba: np.ndarray) -> bytes:
        h, w, _ = rgba.shape
        rows = rgba.reshape(h, w * 4)
        if up:
            rows = np.concatenate([rows[:1], rows[1:] - rows[:-1]])  # uint8 wraps: PNG's Up
        raw = np.empty((h, w * 4 + 1), np.uint8)
        raw[:, 0] = 2 if up else 0
        raw[0, 0] = 0 if up else raw[0, 0]
        raw[:, 1:] = rows
        head = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", head)
                + _chunk(b"IDAT", compress(raw.tobytes())) + _chunk(b"IEND", b""))
    return encode


def encoders() -> dict[str, Encoder]:
    out = {f"Pillow level {n}": pillow(n) for n in (0, 1, 2, 3, 6)}
    try:
        import fpng
        out["fpng"] = fpng.from_ndarray
    except ImportError:
        pass
    try:
        import imagecodecs
        for n in (1, 2):
            out[f"imagecodecs png (libpng) level {n}"] = \
                lambda a, n=n: imagecodecs.png_encode(a, level=n)
            out[f"imagecodecs spng level {n}"] = \
                lambda a, n=n: imagecodecs.spng_encode(a, level=n)
    except ImportError:
        pass
    try:
        from isal import isal_zlib
        for n in (0, 1, 2, 3):
            out[f"numpy Up filter + isal level {n}"] = hand_png(
                lambda b, n=n: isal_zlib.compress(b, n), up=True)
    except ImportError:
        pass
    out["numpy Up filter + zlib level 1"] = hand_png(lambda b: zlib.compress(b, 1), up=True)
    out["humancut.png (isal, level 1)"] = lambda a: png.encode(Image.fromarray(a), 1, "isal")
    return out


def cut_out() -> np.ndarray:
    data, _ = scaled_jpeg(Image.open(ASTRONAUT), 1.0)
    remover = Remover(Settings.from_env(threads=1))
    return np.asarray(remover.remove(data))


def main() -> None:
    rgba = cut_out()
    print(f"{rgba.shape[1]}x{rgba.shape[0]} RGBA cut-out; CPU ms median of 7")
    print("| encoder | CPU ms | KB | decodes to the same pixels |\n|---|---|---|---|")
    for name, encode in encoders().items():
        encode(rgba)
        runs = []
        for _ in range(7):
            c0 = time.process_time()
            data = encode(rgba)
            runs.append(time.process_time() - c0)
        same = np.array_equal(np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")), rgba)
        print(f"| {name} | {statistics.median(runs) * 1000:.0f} | {len(data) / 1000:.0f} | "
              f"{'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
