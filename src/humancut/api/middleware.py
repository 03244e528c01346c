"""Every request gets a request id and a log id (sent back as X-Request-Id / X-Log-Id) and
one JSON log line with what the route added to `request.state.log`."""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response

from .results import loggable_path

log = logging.getLogger("humancut.api")


def new_log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


async def ids_and_log(request: Request,
                      call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    request.state.request_id = str(uuid.uuid4())
    request.state.log_id = new_log_id()
    request.state.log = {}
    start = time.perf_counter()
    response = await call_next(request)
    response.headers.setdefault("X-Request-Id", request.state.request_id)
    response.headers.setdefault("X-Log-Id", request.state.log_id)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.app.state.draining:  # stopping: the client's next call goes elsewhere
        response.headers["Connection"] = "close"
    line = {"request_id": request.state.request_id, "log_id": request.state.log_id,
            "method": request.method, "path": loggable_path(request.url.path),
            "status": response.status_code,
            "ms": round((time.perf_counter() - start) * 1000, 1), **request.state.log}
    log.info(json.dumps(line))
    return response
