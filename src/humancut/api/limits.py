"""Per-key limits: requests per minute (sliding window) and requests in flight.

In-process state: with several server processes each enforces its own share; a shared
backend (Redis) would implement the same two calls.
"""

from __future__ import annotations

import math
import time
from collections import deque

from ..errors import HumancutError

WINDOW = 60.0


class KeyLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def acquire(self, key_id: str, per_minute: int, max_in_flight: int,
                now: float | None = None) -> dict[str, str]:
        """Admit one request or raise EXCEEDING_LIMITS; returns the X-RateLimit headers.
        A limit of 0 means unlimited. Call release() when an admitted request ends."""
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key_id, deque())
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        reset = math.ceil(hits[0] + WINDOW - now) if hits else int(WINDOW)
        headers = {}
        if per_minute:
            headers = {"X-RateLimit-Limit": str(per_minute),
                       "X-RateLimit-Remaining": str(max(0, per_minute - len(hits) - 1)),
                       "X-RateLimit-Reset": str(reset)}
            if len(hits) >= per_minute:
                headers["X-RateLimit-Remaining"] = "0"
                raise HumancutError(
                    "EXCEEDING_LIMITS", f"This key may make {per_minute} requests a minute; "
                    f"retry in {reset} s.", headers={**headers, "Retry-After": str(reset)})
        if max_in_flight and self._in_flight.get(key_id, 0) >= max_in_flight:
            raise HumancutError(
                "EXCEEDING_LIMITS", f"This key may have {max_in_flight} requests in progress "
                "at once; wait for one to finish.", headers={**headers, "Retry-After": "1"})
        hits.append(now)
        self._in_flight[key_id] = self._in_flight.get(key_id, 0) + 1
        return headers

    def release(self, key_id: str) -> None:
        left = self._in_flight.get(key_id, 1) - 1
        if left > 0:
            self._in_flight[key_id] = left
        else:
            self._in_flight.pop(key_id, None)
            if not self._hits.get(key_id):
                self._hits.pop(key_id, None)
