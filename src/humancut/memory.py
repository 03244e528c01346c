"""Memory of large photos: a budget of pixels in flight, and handing freed heap back.

Decoding and cutting out a photo holds about 8 bytes per pixel at its peak (Pillow's RGB,
the uint8 alpha, the encoded answer); 8 HD photos of 36 MP at once would hold 2.3 GB. The
budget makes a photo wait until the ones in flight leave room, so a server's peak follows
the setting, not the traffic."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache


class PixelBudget:
    """At most `limit` pixels held at once by the callers of `hold` (0 = no limit). A photo
    larger than the whole budget still runs, alone."""

    def __init__(self, limit: int):
        self.limit = limit
        self.held = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        if not self.limit:
            yield
            return
        need = min(pixels, self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self.held + need <= self.limit)
            self.held += need
        try:
            yield
        finally:
            with self._cond:
                self.held -= need
                self._cond.notify_all()


@lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def trim() -> None:
    """glibc's malloc_trim: a large photo's freed buffers leave the heap's arenas (where
    glibc would keep them, and RSS with them); a no-op elsewhere."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
