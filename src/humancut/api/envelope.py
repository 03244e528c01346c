"""The contract's JSON envelope, on every answer, success or error."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ..errors import CODES, HumancutError


def success(request_id: str, log_id: str, image_url: str) -> dict[str, Any]:
    return {
        "request_id": request_id, "log_id": log_id, "error_code": 0, "error_code_str": "",
        "error_msg": "", "error_detail": {"status_code": 200, "code": "", "code_message": "",
                                          "message": ""},
        "data": {"image_url": image_url},
    }


def failure(request_id: str, log_id: str, code: str, message: str) -> dict[str, Any]:
    status, code_message = CODES[code]
    return {
        "request_id": request_id, "log_id": log_id, "error_code": status,
        "error_code_str": code, "error_msg": message,
        "error_detail": {"status_code": status, "code": code, "code_message": code_message,
                         "message": message},
    }


def error_response(request_id: str, log_id: str, exc: HumancutError) -> JSONResponse:
    headers = {"X-Request-Id": request_id, **exc.headers}
    return JSONResponse(failure(request_id, log_id, exc.code, exc.message),
                        status_code=exc.status, headers=headers)
