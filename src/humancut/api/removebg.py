"""The remove.bg family: `POST /v1.0/removebg` and `GET /v1.0/account` (and CarveKit's
`/api/...` aliases), remove.bg's error envelope and codes (docs/removebg.md). Same keys,
credits and limits as every family: one image costs one credit, whatever its size."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ..errors import HumancutError
from ..job import Job
from ..store.keys import UNLIMITED_CREDITS
from .family import Family
from .removebg_fields import read_fields
from .removebg_params import parse, to_job
from .service import Done, call_of, service_of

KEY_HEADER = "X-Api-Key"  # any case: HTTP header names are case-insensitive
ROUTES = ("/v1.0/removebg", "/api/removebg")
ACCOUNT = ("/v1.0/account", "/api/account")
CREDITS_CHARGED = 1  # our credits are whole: every image costs one

# humancut's problem -> (remove.bg's code, HTTP status, title). remove.bg answers client
# errors with 400, 402 (credits), 403 (key) and 429 (rate): never a 5xx for a bad request.
CODES: dict[str, tuple[str, int, str]] = {
    "missing_parameter": ("auth_failed", 403, "Missing API Key"),
    "invalid_parameter": ("invalid_parameter", 400, "Invalid parameter given"),
    "unknown_key": ("invalid_api_key", 403, "Invalid API Key"),
    "key_disabled": ("api_key_disabled", 403, "API Key disabled"),
    "not_found": ("not_found", 404, "Not found"),
    "method_not_allowed": ("method_not_allowed", 405, "Method not allowed"),
    "upload_timeout": ("request_timeout", 408, "Request timeout"),
    "file_too_large": ("file_too_large", 400, "File too large"),
    "body_too_large": ("file_too_large", 400, "File too large"),
    "resolution_too_large": ("resolution_too_high", 400, "Image resolution too high"),
    "unsupported_type": ("invalid_file_type", 400, "Invalid file type"),
    "undecodable": ("failed_to_read_image", 400, "Failed to read image"),
    "download_failed": ("failed_image_download", 400, "Failed to download image"),
    "no_person": ("unknown_foreground", 400, "Could not identify foreground in image"),
    "no_credits": ("insufficient_credits", 402, "Insufficient credits"),
    "rate_limited": ("rate_limit_exceeded", 429, "Rate limit exceeded"),
    "processing_failed": ("server_error", 500, "Processing failed"),
    "busy": ("service_unavailable", 503, "Service busy"),
}
# A precise code a parser chose (HumancutError.detail) -> its title; always HTTP 400.
TITLES = {
    "missing_source": "No image given",
    "multiple_sources": "Multiple image sources given",
    "multiple_bg_sources": "Multiple background sources given",
    "invalid_image_url": "Invalid image_url",
    "failed_image_download": "Failed to download image from given image_url",
    "invalid_bg_image_url": "Invalid bg_image_url",
    "failed_bg_download": "Failed to download background image from given bg_image_url",
    "roi_exceeds_bounds": "ROI exceeds image bounds",
    "roi_region_empty": "ROI region is empty",
}

router = APIRouter()


def error_parts(exc: HumancutError) -> tuple[str, int, str]:
    code, status, title = CODES[exc.code]
    if exc.detail and exc.code != "file_too_large":
        name = exc.detail.removeprefix("invalid_")
        return exc.detail, 400, TITLES.get(exc.detail, f"Invalid {name} parameter given")
    return code, status, title


def render_error(request: Request, exc: HumancutError) -> JSONResponse:
    """{"errors": [{"title", "code", "detail"}]}, string values only; a 429 always carries
    an integer Retry-After (the official CLI waits parseInt(Retry-After) seconds)."""
    code, status, title = error_parts(exc)
    headers = dict(exc.headers)
    if status == 429:
        headers.setdefault("Retry-After", "1")
    body = {"errors": [{"title": title, "code": code, "detail": exc.message}]}
    return JSONResponse(body, status_code=status, headers=headers)


def result_headers(done: Done, type_level: str) -> dict[str, str]:
    """remove.bg's result headers (docs/removebg.md#parameters), in binary and JSON mode
    alike."""
    top, left, width, height = done.cut.foreground or (0, 0, 0, 0)
    headers = {"X-Width": str(done.cut.width), "X-Height": str(done.cut.height),
               "X-Credits-Charged": str(CREDITS_CHARGED),
               "X-Foreground-Top": str(top), "X-Foreground-Left": str(left),
               "X-Foreground-Width": str(width), "X-Foreground-Height": str(height),
               **done.headers}
    if type_level != "none":
        headers["X-Type"] = "person"  # the only class humancut finds
    return headers


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "").lower()


async def remove_background(request: Request) -> Response:
    service = service_of(request)
    type_level = "1"

    async def read() -> Job:
        nonlocal type_level
        fields = await read_fields(request, service.settings)
        wanted = parse(fields)
        type_level = wanted.type_level
        request.state.log.update(source=wanted.source, format=wanted.output.format)
        return await to_job(fields, wanted, service.settings)

    done = await service.handle(call_of(request, KEY_HEADER, family.name), read, store=False)
    headers = result_headers(done, type_level)
    if not wants_json(request):
        return Response(done.cut.data, media_type=done.cut.content_type, headers=headers)
    top, left, width, height = done.cut.foreground or (0, 0, 0, 0)
    body = {"data": {"result_b64": base64.b64encode(done.cut.data).decode("ascii"),
                     "foreground_top": top, "foreground_left": left,
                     "foreground_width": width, "foreground_height": height}}
    return JSONResponse(body, headers=headers)


async def account(request: Request) -> JSONResponse:
    """The calling key's balance, in exactly remove.bg's keys (the Ruby gem refuses any
    other; docs/removebg.md#cost-and-account): all of it is pay-as-you-go credits;
    unlimited keys report UNLIMITED_CREDITS."""
    key = await service_of(request).authenticate(request.headers.get(KEY_HEADER), KEY_HEADER)
    balance = float(UNLIMITED_CREDITS if key.credits is None else key.credits)
    return JSONResponse({"data": {"attributes": {
        "credits": {"total": balance, "subscription": 0.0, "payg": balance, "enterprise": 0.0},
        "api": {"free_calls": 0, "sizes": "all"}}}})


for _i, _path in enumerate(ROUTES):
    router.add_api_route(_path, remove_background, methods=["POST"], include_in_schema=_i == 0,
                         summary="remove.bg-compatible background removal (docs/removebg.md)")
for _i, _path in enumerate(ACCOUNT):
    router.add_api_route(_path, account, methods=["GET"], include_in_schema=_i == 0,
                         summary="remove.bg-compatible account balance")

family = Family("removebg", router, ("/v1.0/", *ROUTES, *ACCOUNT), render_error)
