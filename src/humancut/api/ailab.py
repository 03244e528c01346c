"""The AILabTools family: human background removal (`portrait-background-removal`, and the
HD variant), the calling key's credits, and the contract's JSON envelope and error codes
(docs/api.md)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..errors import HumancutError
from ..job import Job
from ..store.keys import UNLIMITED_CREDITS
from .family import Family
from .service import call_of, service_of
from .upload import Part, read_upload

ROUTE = "/api/cutout/portrait/portrait-background-removal"
HD_ROUTE = "/api/cutout/portrait/hd-portrait-background-removal"
CREDITS_ROUTE = "/api/common/query-credits"
KEY_HEADER = "ailabapi-api-key"
NAME = "ailab"  # the family's name (the metrics' `family` label)
RETURN_FORMS = {"": "rgba", "mask": "mask", "whiteBK": "whiteBK", "crop": "crop"}

# humancut's problem -> (the contract's code, its HTTP status, its fixed description)
CODES: dict[str, tuple[str, int, str]] = {
    "missing_parameter": ("MISSING_PARAMETERS", 400, "Missing parameters."),
    "invalid_parameter": ("ERROR_INVALID_PARAMETER", 400, "Invalid parameter."),
    "unknown_key": ("ERROR_APPLICATIONS_NOT_EXISTS", 401, "The API key does not exist."),
    "key_disabled": ("ERROR_USER_LOCKED", 403, "The API key is locked."),
    "not_found": ("ERROR_RESOURCE_NOT_FOUND", 404, "The resource does not exist."),
    "method_not_allowed": ("ERROR_METHOD_NOT_ALLOWED", 405, "Method not allowed."),
    "upload_timeout": ("REQUEST_TIMEOUT", 408, "The request body arrived too slowly."),
    "file_too_large": ("FILE_SIZE_EXCEEDS_LIMIT", 413, "The file size exceeds the limit."),
    "body_too_large": ("ERROR_REQUEST_BODY_TOO_LARGE", 413, "The request body is too large."),
    "resolution_too_large": ("FILE_RESOLUTION_EXCEEDS_LIMITS", 413,
                             "The image resolution exceeds the limit."),
    "duration_too_long": ("VIDEO_DURATION_EXCEEDS_LIMIT", 413,
                          "The video duration exceeds the limit."),
    "task_not_found": ("ERROR_TASK_NOT_FOUND", 404, "The task does not exist."),
    "unsupported_type": ("UNSUPPORTED_FILE_TYPES", 415, "Unsupported file type."),
    "undecodable": ("FILE_DECODING_FAILURE", 422, "The image could not be decoded."),
    "download_failed": ("ERROR_FILE_DOWNLOAD_FAILED", 502, "The file download failed."),
    "no_person": ("ERROR_NO_RECOGNITION_TARGET_DETECTED", 422,
                  "No person was detected in the image."),
    "no_credits": ("ERROR_NOT_ENOUGH_CREDITS", 429, "Not enough credits."),
    "rate_limited": ("EXCEEDING_LIMITS", 429, "Too many requests."),
    "processing_failed": ("PROCESSING_FAILURE", 500, "Processing failed."),
    "busy": ("AI_SERVICE_FLOW_RESTRICTION", 503, "The service is busy; try again later."),
}

router = APIRouter()


def envelope(request: Request, *, status: int = 200, code: str = "", code_message: str = "",
             message: str = "") -> dict[str, Any]:
    return {
        "request_id": request.state.request_id, "log_id": request.state.log_id,
        "error_code": 0 if status == 200 else status, "error_code_str": code,
        "error_msg": message, "error_detail": {"status_code": status, "code": code,
                                               "code_message": code_message,
                                               "message": message},
    }


def render_error(request: Request, exc: HumancutError) -> JSONResponse:
    code, status, code_message = CODES[exc.code]
    body = envelope(request, status=status, code=code, code_message=code_message,
                    message=exc.message)
    return JSONResponse(body, status_code=status, headers=exc.headers)


async def read_image(request: Request, form: str | None, *, max_bytes: int,
                     max_side: int) -> Job:
    """The `image` field of the multipart body as a Job; `form` None: from `return_form`."""
    parts = await read_upload(request, service_of(request).settings, max_bytes)
    if form is None:
        form = _return_form(parts)
    request.state.log["form"] = form
    image = parts.get("image")
    if image is None or (not image.data and not image.filename):  # no file chosen
        raise HumancutError("missing_parameter", "The `image` file field is missing.")
    return Job(bytes(image.data), form, max_side=max_side)


@router.post(ROUTE, summary="Remove the background behind people",
             responses={200: {"description": "The envelope with data.image_url"}})
async def portrait_background_removal(request: Request) -> JSONResponse:
    return await _portrait(request, hd=False)


@router.post(HD_ROUTE, summary="Remove the background behind people, large photos",
             responses={200: {"description": "The envelope with data.elements[0].image_url"}})
async def hd_portrait_background_removal(request: Request) -> JSONResponse:
    """`image` only (other fields are ignored): an RGBA PNG at the photo's size, for photos
    up to hd_max_bytes and hd_max_side (matted at max_model_side, the alpha scaled up)."""
    return await _portrait(request, hd=True)


async def _portrait(request: Request, *, hd: bool) -> JSONResponse:
    """Both cut-out routes; they differ in their limits, `return_form` (HD: always RGBA) and
    where the URL sits in `data`."""
    service = service_of(request)
    s = service.settings

    async def read() -> Job:
        if hd:
            return await read_image(request, "rgba", max_bytes=s.hd_max_bytes,
                                    max_side=s.hd_max_side)
        return await read_image(request, None, max_bytes=s.max_bytes, max_side=s.max_side)

    done = await service.handle(call_of(request, KEY_HEADER, NAME), read)
    data = {"elements": [{"image_url": done.url}]} if hd else {"image_url": done.url}
    return JSONResponse(envelope(request) | {"data": data}, headers=done.headers)


@router.get(CREDITS_ROUTE, summary="The calling key's credits")
async def query_credits(request: Request) -> JSONResponse:
    """The SDK's credit fields for the calling key (docs/api.md#more-ailabtools-routes).
    humancut keeps only the balance, so `total` and `last_recharge_balance` repeat it;
    unlimited keys report UNLIMITED_CREDITS."""
    key = await service_of(request).authenticate(request.headers.get(KEY_HEADER), KEY_HEADER)
    balance = float(UNLIMITED_CREDITS if key.credits is None else key.credits)
    row = {"unique_sign": key.id, "name": key.name or key.id, "balance": balance,
           "total": balance, "last_recharge_balance": balance, "balance_warning": 0,
           "first_buy_time": int(key.created_at), "last_update_time": int(time.time())}
    return JSONResponse(envelope(request) | {"data": [row]})


def _return_form(parts: dict[str, Part]) -> str:
    part = parts.get("return_form")
    value = part.text if part is not None else ""
    if value not in RETURN_FORMS:
        raise HumancutError("invalid_parameter",
                            f"return_form must be empty, mask, whiteBK or crop, not {value!r}.")
    return RETURN_FORMS[value]


family = Family(NAME, router, (ROUTE, HD_ROUTE, CREDITS_ROUTE), render_error)
