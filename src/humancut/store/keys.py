"""API keys: the KeyStore interface and what every backend shares.

A key is `hc_<id>_<secret>`; only sha256 of the whole key is stored and it is compared in
constant time. Credits are reserved before work and refunded on failure, atomically."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..settings import Settings

KEY_PATTERN = re.compile(r"^hc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
STATUSES = ("active", "disabled", "revoked")
UNLIMITED_CREDITS = 999_999_999  # what balance APIs report for a key without a credit limit


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    status: str  # active | disabled | revoked
    credits: int | None  # None = unlimited
    created_at: float
    rate_per_minute: int | None = None  # None = the server's default
    max_in_flight: int | None = None  # None = the server's default


def key_from_row(row: Any) -> ApiKey:
    """An ApiKey from a `keys` table row (any mapping-like row: sqlite3.Row, psycopg dict)."""
    return ApiKey(row["id"], row["name"], row["status"], row["credits"], row["created_at"],
                  row["rate_per_minute"], row["max_in_flight"])


def new_secret() -> tuple[str, str, str]:
    """(key id, the full key shown once to its owner, the hash stored)."""
    key_id = secrets.token_hex(6)
    full = f"hc_{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, full, hash_secret(full)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(secret: str) -> str:
    """The id part of a well-formed key, or "" (which matches no row)."""
    match = KEY_PATTERN.match(secret or "")
    return match.group(1) if match else ""


def matches(secret: str, stored_hash: str | None) -> bool:
    """Constant time, and the same work whether or not a row was found."""
    offered = hash_secret(secret or "")
    return hmac.compare_digest(offered, stored_hash or hash_secret("")) and stored_hash is not None


def check_limits(**values: int | None) -> None:
    for label, value in values.items():
        if value is not None and value < 0:
            raise ValueError(f"{label} must be 0 or more")


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")


class KeyStore(ABC):
    """Where keys live: one module per backend (sqlite.py, ...), chosen by `keys_url`.
    Methods are synchronous; the API calls them in a thread pool."""

    @classmethod
    @abstractmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> KeyStore:
        """The backend a `keys_url` of this class's scheme names (store.open_backend
        calls it); raises when the URL is wrong or the backend cannot be reached."""

    @abstractmethod
    def create(self, name: str = "", credits: int | None = None, *,
               rate_per_minute: int | None = None,
               max_in_flight: int | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret, which is shown once and never stored."""

    @abstractmethod
    def authenticate(self, secret: str) -> ApiKey | None:
        """The key this secret belongs to (any status), or None."""

    @abstractmethod
    def get(self, key_id: str) -> ApiKey | None: ...

    @abstractmethod
    def list(self) -> list[ApiKey]: ...

    @abstractmethod
    def set_status(self, key_id: str, status: str) -> bool:
        """False when there is no such key."""

    @abstractmethod
    def reserve_credit(self, key_id: str) -> bool:
        """Take one credit if the key has one (always True when unlimited)."""

    @abstractmethod
    def refund_credit(self, key_id: str) -> None:
        """Give back a credit taken by reserve_credit for a call that then failed."""

    def export(self) -> Iterator[tuple[ApiKey, str]]:
        """Every key with its stored hash, for `humancut keys copy`."""
        raise NotImplementedError(f"{type(self).__name__} cannot export keys")

    def restore(self, key: ApiKey, secret_hash: str) -> None:
        """Insert or overwrite a key by id (see UPSERT)."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore keys")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


# `keys copy` semantics, shared by the SQL stores ({p} is the driver's placeholder): the
# source wins (name, hash, balance, limits), except that a key revoked in the target stays
# revoked. Running it twice leaves the target as after the first run.
UPSERT = """
INSERT INTO keys (id, name, secret_sha256, status, credits, created_at, rate_per_minute,
                  max_in_flight) VALUES ({p},{p},{p},{p},{p},{p},{p},{p})
ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_sha256 = excluded.secret_sha256,
    status = CASE WHEN keys.status = 'revoked' THEN 'revoked' ELSE excluded.status END,
    credits = excluded.credits, created_at = excluded.created_at,
    rate_per_minute = excluded.rate_per_minute, max_in_flight = excluded.max_in_flight
"""


def upsert_values(key: ApiKey, secret_hash: str) -> tuple[object, ...]:
    check_status(key.status)
    check_limits(credits=key.credits, rate_per_minute=key.rate_per_minute,
                 max_in_flight=key.max_in_flight)
    return (key.id, key.name, secret_hash, key.status, key.credits, key.created_at,
            key.rate_per_minute, key.max_in_flight)


def copy_keys(source: KeyStore, target: KeyStore) -> tuple[int, int]:
    """Copy every key (hash, status, balance, limits) from source to target; (added, updated).
    Idempotent: a second run overwrites balances with the source's again."""
    added = updated = 0
    for key, secret_hash in source.export():
        existed = target.get(key.id) is not None
        target.restore(key, secret_hash)
        updated, added = updated + existed, added + (not existed)
    return added, updated
