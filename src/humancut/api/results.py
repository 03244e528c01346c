"""`GET /api/results/<token>.<ext>`: a stored result, streamed, until it expires."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import HumancutError
from .service import RESULTS, service_of

router = APIRouter()


@router.get(RESULTS + "/{name}", summary="A result, until it expires")
async def result(request: Request, name: str) -> StreamingResponse:
    found = await run_in_threadpool(service_of(request).results.open, name)
    if found is None:
        raise HumancutError("not_found", "This result does not exist or has expired.")
    remaining = max(0, int(found.stored.expires_at - time.time()))
    return StreamingResponse(found.chunks, media_type=found.stored.content_type,
                             headers={"Cache-Control": f"private, max-age={remaining}",
                                      "Content-Length": str(found.size)})


def loggable_path(path: str) -> str:
    """Result tokens are bearer secrets: keep them out of the log."""
    return RESULTS + "/<token>" if path.startswith(RESULTS + "/") else path
