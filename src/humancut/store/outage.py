"""What a call answers while a shared backend (PostgreSQL, Redis, S3) cannot be reached: the
`busy` problem (503 with Retry-After), never a hang or a traceback; the backend's client
reconnects by itself, so the server recovers without a restart."""

from __future__ import annotations

import json
import logging

from ..errors import HumancutError

RETRY_AFTER = 5  # seconds; a restarting PostgreSQL or Redis is usually back by then

log = logging.getLogger("humancut.store")


def unavailable(backend: str, exc: BaseException) -> HumancutError:
    log.warning(json.dumps({"event": "backend_unavailable", "backend": backend,
                            "error": f"{type(exc).__name__}: {exc}"[:300]}))
    return HumancutError("busy", f"The {backend} is unavailable; try again shortly.",
                         headers={"Retry-After": str(RETRY_AFTER)})
