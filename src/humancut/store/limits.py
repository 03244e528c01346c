"""Per-key limits: the Limiter interface. Two limits per key, each 0 for unlimited: requests
in a sliding minute, and requests in progress at once. Async, so a networked backend does
not block the event loop."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ..errors import HumancutError
from ..settings import Settings

WINDOW = 60  # seconds


@dataclass(frozen=True)
class Admission:
    """An admitted request: the numbers of its X-RateLimit-* headers and the in-flight slot
    (`lease`) to give back with Limiter.release."""

    limit: int  # requests a minute; 0 = unlimited (no headers)
    remaining: int
    reset: int  # seconds until the oldest request in the window leaves it
    lease: str = ""

    @property
    def headers(self) -> dict[str, str]:
        if not self.limit:
            return {}
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.remaining)),
                "X-RateLimit-Reset": str(self.reset)}


def too_many_a_minute(per_minute: int, reset: int) -> HumancutError:
    reset = max(1, reset)
    headers = Admission(per_minute, 0, reset).headers | {"Retry-After": str(reset)}
    return HumancutError("rate_limited", f"This key may make {_n(per_minute, 'request')} a "
                         f"minute; retry in {reset} s.", headers=headers)


def too_many_at_once(max_in_flight: int, admission: Admission) -> HumancutError:
    return HumancutError("rate_limited", f"This key may have {_n(max_in_flight, 'request')} "
                         "in progress at once; wait for one to finish.",
                         headers=admission.headers | {"Retry-After": "1"})


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


class Limiter(ABC):
    """One module per backend (memory.py, ...), chosen by `limits_url`."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> Limiter:
        """The backend a `limits_url` of this class's scheme names (store.open_backend
        calls it); raises when the URL is wrong or the backend cannot be reached."""

    @abstractmethod
    async def acquire(self, key_id: str, per_minute: int, max_in_flight: int) -> Admission:
        """Admit one request or raise HumancutError("rate_limited") with Retry-After. Every
        admitted request is given back with release()."""

    @abstractmethod
    async def release(self, key_id: str, admission: Admission) -> None: ...

    # Failures counted for every process that shares this limiter (the admin token's
    # lockout, api/admin.py): None / False where it is this process's own memory, and the
    # caller counts in its own.

    async def failure_wait(self, name: str, limit: int, window: float) -> int | None:
        """Seconds until `name` may try again, after `limit` failures in `window` seconds
        (0: it may now); None when failures are not shared here."""
        return None

    async def count_failure(self, name: str, window: float) -> bool:
        """Count one failure of `name` for `window` seconds; False when not shared here."""
        return False

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
