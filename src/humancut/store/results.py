"""Temporary results: the ResultStore interface. A result is stored bytes with a 128-bit
random token, a content type and an expiry; routes never see where the bytes live."""

from __future__ import annotations

import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from ..settings import Settings

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # 16 random bytes, url-safe base64
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp",
              "application/zip": ".zip", "video/webm": ".webm", "video/quicktime": ".mov",
              "video/mp4": ".mp4"}
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Stored:
    """A stored result. `name` (token + extension) is the last segment of its URL."""

    token: str
    content_type: str
    expires_at: float

    @property
    def name(self) -> str:
        return self.token + EXTENSIONS.get(self.content_type, ".bin")


def new_token() -> str:
    return secrets.token_urlsafe(16)


def token_of(name: str) -> str | None:
    """The token of a result name from a URL, or None when it cannot be one (so nothing from
    outside ever reaches a path or a key unchecked)."""
    token = name.rsplit(".", 1)[0]
    return token if TOKEN_PATTERN.match(token) else None


@dataclass
class Opened:
    """An unexpired result, ready to stream; `chunks` yields its bytes once."""

    stored: Stored
    size: int
    chunks: Iterator[bytes]


class ResultStore(ABC):
    """Where results live until they expire: one module per backend (files.py, ...), chosen
    by `results_url`. Methods are synchronous; the API calls them in a thread pool."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> ResultStore:
        """The backend a `results_url` of this class's scheme names (store.open_backend
        calls it); raises when the URL is wrong or the backend cannot be reached."""

    @abstractmethod
    def put(self, data: bytes, content_type: str, ttl: float) -> Stored:
        """Store `data` for `ttl` seconds; raises OSError when it cannot."""

    @abstractmethod
    def open(self, name: str) -> Opened | None:
        """The result named `name` (token + its extension), when it exists and has not
        expired, else None."""

    def url(self, stored: Stored, prefix: str) -> str:
        """The public URL of a result; `prefix` is the API's results route, absolute."""
        return f"{prefix}/{stored.name}"

    @abstractmethod
    def sweep(self, now: float | None = None) -> int:
        """Delete expired results; the number deleted."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
