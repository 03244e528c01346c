"""In-memory limits (`memory://`): one process's own counters. With several server
processes each would enforce its own share; use a shared backend for that."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from .limits import WINDOW, Admission, Limiter, too_many_a_minute, too_many_at_once


class MemoryLimiter(Limiter):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    @classmethod
    def from_url(cls, url: str, settings: object = None) -> MemoryLimiter:
        if url.rstrip("/") != "memory:":
            raise ValueError(f"expected memory://, got {url!r}")
        return cls()

    async def acquire(self, key_id: str, per_minute: int, max_in_flight: int) -> Admission:
        # No await inside: the check and the update are atomic on the event loop.
        now = self._clock()
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        reset = math.ceil(hits[0] + WINDOW - now) if hits else WINDOW
        if per_minute and len(hits) >= per_minute:
            raise too_many_a_minute(per_minute, reset)
        admission = Admission(per_minute, per_minute - len(hits) - 1, reset)
        if max_in_flight and self._in_flight.get(key_id, 0) >= max_in_flight:
            raise too_many_at_once(max_in_flight, admission)
        hits.append(now)
        self._in_flight[key_id] = self._in_flight.get(key_id, 0) + 1
        return admission

    async def release(self, key_id: str, admission: Admission) -> None:
        left = self._in_flight.get(key_id, 1) - 1
        if left > 0:
            self._in_flight[key_id] = left
        else:
            self._in_flight.pop(key_id, None)
            if not self._hits.get(key_id):
                self._hits.pop(key_id, None)
