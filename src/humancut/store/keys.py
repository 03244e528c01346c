"""API keys. A key is `hc_<id>_<secret>`; only sha256(secret) is stored, compared in
constant time. Credits are reserved before work and refunded on failure, atomically."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from .db import Database

KEY_PATTERN = re.compile(r"^hc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
STATUSES = ("active", "disabled", "revoked")


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    status: str  # active | disabled | revoked
    credits: int | None  # None = unlimited
    created_at: float
    rate_per_minute: int | None = None  # None = the server's default
    max_in_flight: int | None = None  # None = the server's default


class KeyStore(ABC):
    """Where keys live. Subclass it for another database."""

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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SQLiteKeyStore(KeyStore):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        credits INTEGER,
        created_at REAL NOT NULL,
        rate_per_minute INTEGER,
        max_in_flight INTEGER
    );
    """

    def __init__(self, path: Path):
        self.db = Database(path, self.SCHEMA)

    def create(self, name: str = "", credits: int | None = None, *,
               rate_per_minute: int | None = None,
               max_in_flight: int | None = None) -> tuple[ApiKey, str]:
        for label, value in (("credits", credits), ("rate_per_minute", rate_per_minute),
                             ("max_in_flight", max_in_flight)):
            if value is not None and value < 0:
                raise ValueError(f"{label} must be 0 or more")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        full = f"hc_{key_id}_{secret}"
        now = time.time()
        self.db.connect().execute(
            "INSERT INTO keys (id, name, secret_sha256, credits, created_at, rate_per_minute,"
            " max_in_flight) VALUES (?,?,?,?,?,?,?)",
            (key_id, name, _hash(full), credits, now, rate_per_minute, max_in_flight))
        return ApiKey(key_id, name, "active", credits, now, rate_per_minute, max_in_flight), full

    def authenticate(self, secret: str) -> ApiKey | None:
        match = KEY_PATTERN.match(secret or "")
        # Hash whatever came, so a malformed key costs the same as a wrong one.
        offered = _hash(secret or "")
        row = self.db.connect().execute(
            "SELECT *, secret_sha256 AS h FROM keys WHERE id = ?",
            (match.group(1) if match else "",)).fetchone()
        stored = row["h"] if row else _hash("")
        if row is None or not hmac.compare_digest(offered, stored):
            return None
        return self._key(row)

    def get(self, key_id: str) -> ApiKey | None:
        row = self.db.connect().execute("SELECT * FROM keys WHERE id = ?", (key_id,)).fetchone()
        return self._key(row) if row else None

    def list(self) -> list[ApiKey]:
        rows = self.db.connect().execute("SELECT * FROM keys ORDER BY created_at").fetchall()
        return [self._key(r) for r in rows]

    def set_status(self, key_id: str, status: str) -> bool:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        cur = self.db.connect().execute("UPDATE keys SET status = ? WHERE id = ?",
                                        (status, key_id))
        return cur.rowcount == 1

    def reserve_credit(self, key_id: str) -> bool:
        # One UPDATE: atomic under any number of threads and processes.
        cur = self.db.connect().execute(
            "UPDATE keys SET credits = credits - 1 WHERE id = ? AND credits > 0", (key_id,))
        if cur.rowcount == 1:
            return True
        row = self.db.connect().execute("SELECT credits FROM keys WHERE id = ?",
                                        (key_id,)).fetchone()
        return row is not None and row["credits"] is None

    def refund_credit(self, key_id: str) -> None:
        self.db.connect().execute(
            "UPDATE keys SET credits = credits + 1 WHERE id = ? AND credits IS NOT NULL",
            (key_id,))

    @staticmethod
    def _key(row: sqlite3.Row) -> ApiKey:
        return ApiKey(row["id"], row["name"], row["status"], row["credits"], row["created_at"],
                      row["rate_per_minute"], row["max_in_flight"])
