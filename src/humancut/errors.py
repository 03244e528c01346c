"""The error codes of the AILabTools contract, raised by the library and answered by the API."""

from __future__ import annotations

# code -> (HTTP status, fixed description). Names follow the public AILabTools list.
CODES: dict[str, tuple[int, str]] = {
    "MISSING_PARAMETERS": (400, "Missing parameters."),
    "ERROR_INVALID_PARAMETER": (400, "Invalid parameter."),
    "ERROR_APPLICATIONS_NOT_EXISTS": (401, "The API key does not exist."),
    "ERROR_USER_LOCKED": (403, "The API key is locked."),
    "ERROR_RESOURCE_NOT_FOUND": (404, "The resource does not exist."),
    "ERROR_METHOD_NOT_ALLOWED": (405, "Method not allowed."),
    "REQUEST_TIMEOUT": (408, "The request body arrived too slowly."),
    "FILE_SIZE_EXCEEDS_LIMIT": (413, "The file size exceeds the limit."),
    "ERROR_REQUEST_BODY_TOO_LARGE": (413, "The request body is too large."),
    "FILE_RESOLUTION_EXCEEDS_LIMITS": (413, "The image resolution exceeds the limit."),
    "UNSUPPORTED_FILE_TYPES": (415, "Unsupported file type."),
    "FILE_DECODING_FAILURE": (422, "The image could not be decoded."),
    "ERROR_NO_RECOGNITION_TARGET_DETECTED": (422, "No person was detected in the image."),
    "ERROR_NOT_ENOUGH_CREDITS": (429, "Not enough credits."),
    "EXCEEDING_LIMITS": (429, "Too many requests."),
    "PROCESSING_FAILURE": (500, "Processing failed."),
    "AI_SERVICE_FLOW_RESTRICTION": (503, "The service is busy; try again later."),
}


class HumancutError(Exception):
    """An error with a contract code; `message` says what to do about it."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None):
        if code not in CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return CODES[self.code][0]

    @property
    def code_message(self) -> str:
        return CODES[self.code][1]


class ModelFileError(RuntimeError):
    """The model file is missing or does not match its pinned hash."""
