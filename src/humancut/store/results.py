"""Temporary results. Each has a 128-bit random token, a content type and an expiry; the
bytes are written to a temporary file and renamed, so a half-written file is never served."""

from __future__ import annotations

import os
import re
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from .db import Database

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # 16 random bytes, url-safe base64
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg"}


@dataclass(frozen=True)
class Result:
    token: str
    path: Path
    content_type: str
    expires_at: float


class ResultStore(ABC):
    """Where results live until they expire. Subclass it for S3-compatible storage."""

    @abstractmethod
    def put(self, data: bytes, content_type: str, ttl: float) -> Result: ...

    @abstractmethod
    def get(self, token: str) -> Result | None:
        """The unexpired result with this token whose bytes still exist, or None."""

    @abstractmethod
    def sweep(self, now: float | None = None) -> int:
        """Delete expired results; the number deleted."""


class FileResultStore(ResultStore):
    SCHEMA = """
    CREATE TABLE IF NOT EXISTS results (
        token TEXT PRIMARY KEY,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX IF NOT EXISTS results_expiry ON results (expires_at);
    """

    def __init__(self, root: Path):
        self.root = Path(root)
        self.files = self.root / "results"
        self.files.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.root / "results.db", self.SCHEMA)

    def put(self, data: bytes, content_type: str, ttl: float) -> Result:
        token = secrets.token_urlsafe(16)
        filename = token + EXTENSIONS.get(content_type, ".bin")
        final, tmp = self.files / filename, self.files / f".{filename}.tmp"
        expires_at = time.time() + ttl
        conn = self.db.connect()
        # The row first: a crash before the rename leaves a row without a file (answered 404
        # and swept), never a file nobody tracks.
        conn.execute("INSERT INTO results VALUES (?,?,?,?)",
                     (token, filename, content_type, expires_at))
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            conn.execute("DELETE FROM results WHERE token = ?", (token,))
            raise
        return Result(token, final, content_type, expires_at)

    def get(self, token: str) -> Result | None:
        if not TOKEN_PATTERN.match(token or ""):
            return None  # never touches the file system with a path from outside
        row = self.db.connect().execute("SELECT * FROM results WHERE token = ?",
                                        (token,)).fetchone()
        if row is None or row["expires_at"] <= time.time():
            return None
        path = self.files / row["filename"]
        if not path.is_file():
            return None
        return Result(token, path, row["content_type"], row["expires_at"])

    def sweep(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        conn = self.db.connect()
        rows = conn.execute("SELECT token, filename FROM results WHERE expires_at <= ?",
                            (now,)).fetchall()
        for row in rows:
            (self.files / row["filename"]).unlink(missing_ok=True)
            conn.execute("DELETE FROM results WHERE token = ?", (row["token"],))
        # Temporary files left by a crash mid-write.
        for stale in self.files.glob(".*.tmp"):
            if stale.stat().st_mtime < now - 3600:
                stale.unlink(missing_ok=True)
        return len(rows)
