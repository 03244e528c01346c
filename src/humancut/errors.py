"""What can go wrong, in humancut's own words. Each API family renders these in its own format
(the AILabTools envelope and codes: `api/ailab.py`); the library and the CLI show them as is."""

from __future__ import annotations

# problem -> (default HTTP status, what it means). Families may answer another status.
PROBLEMS: dict[str, tuple[int, str]] = {
    "missing_parameter": (400, "A required parameter is missing."),
    "invalid_parameter": (400, "A parameter has an invalid value."),
    "unknown_key": (401, "The API key does not exist."),
    "key_disabled": (403, "The API key is disabled."),
    "not_found": (404, "The resource does not exist."),
    "method_not_allowed": (405, "Method not allowed."),
    "upload_timeout": (408, "The request body arrived too slowly."),
    "file_too_large": (413, "The file size exceeds the limit."),
    "body_too_large": (413, "The request body is too large."),
    "resolution_too_large": (413, "The image resolution exceeds the limit."),
    "duration_too_long": (413, "The video duration exceeds the limit."),
    "task_not_found": (404, "The task does not exist."),
    "unsupported_type": (415, "Unsupported file type."),
    "undecodable": (422, "The image could not be decoded."),
    "download_failed": (400, "An image could not be downloaded from its URL."),
    "no_person": (422, "No person was detected in the image."),
    "no_credits": (429, "Not enough credits."),
    "rate_limited": (429, "Too many requests."),
    "processing_failed": (500, "Processing failed."),
    "busy": (503, "The service is busy; try again later."),
}


class HumancutError(Exception):
    """A problem from PROBLEMS; `message` says what to do about it, `headers` go on the HTTP
    answer (Retry-After, X-RateLimit-*). `detail` is an optional precise code the raising
    family chose in its own dialect (remove.bg's `roi_exceeds_bounds`); others ignore it."""

    def __init__(self, code: str, message: str, *, headers: dict[str, str] | None = None,
                 detail: str = ""):
        if code not in PROBLEMS:
            raise ValueError(f"unknown problem {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.detail = detail

    @property
    def status(self) -> int:
        return PROBLEMS[self.code][0]

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from code and message: runners on other processes (Ray) pickle it.
        return (HumancutError, (self.code, self.message), {"headers": self.headers})


class ModelFileError(RuntimeError):
    """The model file is missing or does not match its pinned hash."""


class ConfigError(ValueError):
    """A setting is wrong or its backend cannot be reached; the message names the setting."""


class MissingExtra(ConfigError):
    """A chosen feature needs an optional dependency that is not installed."""

    def __init__(self, module: str, extra: str, what: str):
        super().__init__(f"{what} needs the {module} package: pip install 'humancut[{extra}]'")
        self.extra = extra


class BackendUnavailable(ConfigError):
    """A configured backend (a key store, a database) cannot be opened or reached."""
