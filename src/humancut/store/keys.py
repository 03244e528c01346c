"""API keys: the KeyStore interface and what every backend shares.

A key is `hc_<id>_<secret>`; only sha256 of the whole key is stored and it is compared in
constant time. Credits are reserved before work and refunded on failure, atomically."""

from __future__ import annotations

import builtins  # KeyStore.list shadows the builtin in annotations
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

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


@dataclass(frozen=True)
class Usage:
    """One key's calls on one UTC day: `images` cut out, `credits` charged (photos and
    video), the refused or failed calls by problem name (errors.PROBLEMS; video ones as
    `video:<problem>`), and the video tasks done with their seconds of video."""

    day: str  # YYYY-MM-DD, UTC
    key_id: str
    images: int = 0
    credits: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    video_tasks: int = 0
    video_seconds: float = 0.0


@dataclass(frozen=True)
class AuditEntry:
    at: float
    action: str
    key_id: str
    fields: dict[str, Any]
    token: str  # a fingerprint of the admin token used (or "cli"), never the token


class Conflict(ValueError):
    """A change the key's state forbids: revoked for good, a balance below 0, ..."""


OK = "ok"  # the usage outcome of a successful call; failures are stored by problem name
VIDEO_OK = "video"  # ... of a video task done (its seconds in the `seconds` column)
CHANGEABLE = ("name", "status", "rate_per_minute", "max_in_flight")  # by update()
MAX_CREDITS = 10**12  # a balance or a top-up above this is refused (no integer overflow)


def utc_day(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(time.time() if at is None else at))


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

    # ---- the operator's changes, usage and audit (api/admin.py, cli/admin.py) ---------

    @abstractmethod
    def update(self, key_id: str, **changes: object) -> ApiKey | None:
        """Change CHANGEABLE fields; None when there is no such key. Conflict when the key
        is revoked (re-revoking, or changing nothing, is allowed)."""

    @abstractmethod
    def add_credits(self, key_id: str, amount: int) -> ApiKey | None:
        """Add (or take, when negative) credits atomically with calls in flight; None when
        there is no such key; Conflict when the key is unlimited or would go below 0."""

    @abstractmethod
    def set_credits(self, key_id: str, credits: int | None) -> ApiKey | None:
        """Set the balance (None = unlimited); None when there is no such key."""

    @abstractmethod
    def record_usage(self, key_id: str, outcome: str, credits: int = 0,
                     at: float | None = None, seconds: float = 0.0) -> None:
        """Count one call of the key: outcome OK (charged `credits`), VIDEO_OK (a video
        task of `seconds` of video) or a problem name."""

    @abstractmethod
    def usage(self, first_day: str, last_day: str,
              key_id: str | None = None) -> builtins.list[Usage]:
        """Usage per key and UTC day between the two days (YYYY-MM-DD, both included)."""

    @abstractmethod
    def audit(self, action: str, key_id: str, fields: Mapping[str, Any], token: str) -> None:
        """Write one entry of the operators' audit trail."""

    @abstractmethod
    def audit_log(self, key_id: str | None = None, limit: int = 100) -> builtins.list[AuditEntry]:
        """The newest entries first."""

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """A transaction over this thread's calls to the store inside it: an operator's
        change and its audit entry are written together or not at all."""
        return contextlib.nullcontext()

    def export(self) -> Iterator[tuple[ApiKey, str]]:
        """Every key with its stored hash, for `humancut keys copy` (store/copy.py)."""
        raise NotImplementedError(f"{type(self).__name__} cannot export keys")

    def export_usage(self) -> builtins.list[tuple[Any, ...]]:
        """Every usage row: (day, key_id, outcome, calls, credits, seconds of video)."""
        raise NotImplementedError(f"{type(self).__name__} cannot export usage")

    def restore_usage(self, rows: builtins.list[tuple[Any, ...]]) -> None:
        """Set these usage rows (the source's counts win)."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore usage")

    def restore_audit(self, entries: builtins.list[AuditEntry]) -> int:
        """Add the entries not already here (oldest first); how many were added."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore an audit trail")

    def restore(self, key: ApiKey, secret_hash: str) -> None:
        """Insert or overwrite a key by id (see UPSERT)."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore keys")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class SQLKeyStore(KeyStore):
    """The operator's changes, usage and audit in SQL both SQLite and PostgreSQL run; a
    subclass gives `_rows` (one statement, `{p}` its placeholder, committed on return)."""

    @abstractmethod
    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Mapping[str, Any]]: ...

    def update(self, key_id: str, **changes: object) -> ApiKey | None:
        unknown = set(changes) - set(CHANGEABLE)
        if unknown:
            raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
        if "status" in changes:
            check_status(str(changes["status"]))
        if "name" in changes and not isinstance(changes["name"], str):
            raise ValueError("name must be a string")
        limits = {k: changes[k] for k in ("rate_per_minute", "max_in_flight") if k in changes}
        check_limits(**cast("dict[str, int | None]", limits))  # the callers parse the JSON
        key = self.get(key_id)
        if key is None or not changes:
            return key
        sets = ", ".join(f"{name} = {{p}}" for name in changes)
        rows = self._rows(f"UPDATE keys SET {sets} WHERE id = {{p}} AND status <> 'revoked' "
                          "RETURNING *", (*changes.values(), key_id))
        if rows:
            return key_from_row(rows[0])
        key = self.get(key_id)
        if key is None or all(getattr(key, k) == v for k, v in changes.items()):
            return key  # gone meanwhile, or revoked and asked for nothing new
        raise Conflict(f"key {key_id} is revoked for good")

    def add_credits(self, key_id: str, amount: int) -> ApiKey | None:
        if abs(amount) > MAX_CREDITS:
            raise ValueError(f"a top-up is at most {MAX_CREDITS}")
        # One conditional UPDATE: calls reserving credits meanwhile are neither lost nor
        # doubled (the row is locked for its duration, in both databases).
        rows = self._rows("UPDATE keys SET credits = credits + {p} WHERE id = {p} AND "
                          "credits IS NOT NULL AND credits + {p} >= 0 AND credits + {p} <= {p} "
                          "RETURNING *", (amount, key_id, amount, amount, MAX_CREDITS))
        if rows:
            return key_from_row(rows[0])
        key = self.get(key_id)
        if key is None:
            return None
        if key.credits is None:
            raise Conflict(f"key {key_id} has unlimited credits; set a balance instead")
        if key.credits + amount < 0:
            raise Conflict(f"key {key_id} has {key.credits} credits; taking {-amount} would "
                           "leave fewer than 0")
        raise Conflict(f"a balance is at most {MAX_CREDITS}")

    def set_credits(self, key_id: str, credits: int | None) -> ApiKey | None:
        check_limits(credits=credits)
        if credits is not None and credits > MAX_CREDITS:
            raise ValueError(f"a balance is at most {MAX_CREDITS}")
        rows = self._rows("UPDATE keys SET credits = {p} WHERE id = {p} RETURNING *",
                          (credits, key_id))
        return key_from_row(rows[0]) if rows else None

    def record_usage(self, key_id: str, outcome: str, credits: int = 0,
                     at: float | None = None, seconds: float = 0.0) -> None:
        # An upsert adding 1: exact under any number of processes.
        self._rows("INSERT INTO key_usage (day, key_id, outcome, calls, credits, seconds) "
                   "VALUES ({p},{p},{p},1,{p},{p}) ON CONFLICT (day, key_id, outcome) DO UPDATE "
                   "SET calls = key_usage.calls + 1, "
                   "credits = key_usage.credits + excluded.credits, "
                   "seconds = key_usage.seconds + excluded.seconds",
                   (utc_day(at), key_id, outcome, credits, seconds))

    def usage(self, first_day: str, last_day: str,
              key_id: str | None = None) -> builtins.list[Usage]:
        sql = ("SELECT day, key_id, outcome, calls, credits, seconds FROM key_usage "
               "WHERE day >= {p} AND day <= {p}")
        params: tuple[object, ...] = (first_day, last_day)
        if key_id is not None:
            sql, params = sql + " AND key_id = {p}", (*params, key_id)
        by_day: dict[tuple[str, str], Usage] = {}
        for row in self._rows(sql + " ORDER BY day, key_id, outcome", params):
            u = by_day.setdefault((row["day"], row["key_id"]), Usage(row["day"], row["key_id"]))
            if row["outcome"] == OK:
                u = replace(u, images=int(row["calls"]), credits=u.credits + int(row["credits"]))
            elif row["outcome"] == VIDEO_OK:
                u = replace(u, video_tasks=int(row["calls"]), video_seconds=float(row["seconds"]),
                            credits=u.credits + int(row["credits"]))
            else:
                u.failures[row["outcome"]] = int(row["calls"])
            by_day[(u.day, u.key_id)] = u
        return list(by_day.values())

    def audit(self, action: str, key_id: str, fields: Mapping[str, Any], token: str) -> None:
        self._rows("INSERT INTO admin_audit (at, action, key_id, fields, token) "
                   "VALUES ({p},{p},{p},{p},{p})",
                   (time.time(), action, key_id, json.dumps(dict(fields), sort_keys=True), token))

    def export_usage(self) -> builtins.list[tuple[Any, ...]]:
        rows = self._rows("SELECT day, key_id, outcome, calls, credits, seconds FROM key_usage "
                          "ORDER BY day, key_id, outcome")
        return [(r["day"], r["key_id"], r["outcome"], int(r["calls"]), int(r["credits"]),
                 float(r["seconds"])) for r in rows]

    def restore_usage(self, rows: builtins.list[tuple[Any, ...]]) -> None:
        for row in rows:
            self._rows("INSERT INTO key_usage (day, key_id, outcome, calls, credits, seconds) "
                       "VALUES ({p},{p},{p},{p},{p},{p}) ON CONFLICT (day, key_id, outcome) DO "
                       "UPDATE SET calls = excluded.calls, credits = excluded.credits, "
                       "seconds = excluded.seconds", row)

    def restore_audit(self, entries: builtins.list[AuditEntry]) -> int:
        added = 0
        for e in entries:
            values = (e.at, e.action, e.key_id, json.dumps(e.fields, sort_keys=True), e.token)
            added += len(self._rows(
                "INSERT INTO admin_audit (at, action, key_id, fields, token) SELECT "
                "{p},{p},{p},{p},{p} WHERE NOT EXISTS (SELECT 1 FROM admin_audit WHERE at = {p} "
                "AND action = {p} AND key_id = {p} AND fields = {p} AND token = {p}) "
                "RETURNING id", (*values, *values)))
        return added

    def audit_log(self, key_id: str | None = None, limit: int = 100) -> builtins.list[AuditEntry]:
        where, params = ("WHERE key_id = {p} ", (key_id,)) if key_id else ("", ())
        rows = self._rows(f"SELECT * FROM admin_audit {where}ORDER BY id DESC LIMIT {{p}}",
                          (*params, limit))
        return [AuditEntry(r["at"], r["action"], r["key_id"], json.loads(r["fields"]),
                           r["token"]) for r in rows]


# Tables added to both SQL stores' migrations (after `keys`): usage per key, UTC day and
# outcome (a problem name, or OK), and the operators' audit trail.
USAGE_TABLE = """CREATE TABLE key_usage (
    day TEXT NOT NULL,
    key_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    calls BIGINT NOT NULL DEFAULT 0,
    credits BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, key_id, outcome)
)"""
AUDIT_TABLE = """CREATE TABLE admin_audit (
    id {serial} PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    action TEXT NOT NULL,
    key_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    token TEXT NOT NULL
)"""
AUDIT_INDEX = "CREATE INDEX admin_audit_key ON admin_audit (key_id)"


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
