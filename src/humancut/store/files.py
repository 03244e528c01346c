"""Results as files in a folder (`file://PATH`), indexed in a SQLite file beside them. The
bytes go to a temporary file that is renamed, so a half-written file is never served."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .results import CHUNK, Opened, ResultStore, Stored, new_token, token_of
from .sqlite import Database, url_path


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

    def __init__(self, folder: Path):
        self.files = Path(folder)
        self.files.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.files / "index.db", self.SCHEMA)

    @classmethod
    def from_url(cls, url: str, settings: object = None) -> FileResultStore:
        return cls(url_path(url, "file"))

    def put(self, data: bytes, content_type: str, ttl: float) -> Stored:
        stored = Stored(new_token(), content_type, time.time() + ttl)
        final = self.files / stored.name
        tmp = self.files / f".{stored.name}.tmp"
        conn = self.db.connect()
        # The row first: a crash before the rename leaves a row without a file (answered 404
        # and swept), never a file nobody tracks.
        conn.execute("INSERT INTO results VALUES (?,?,?,?)",
                     (stored.token, stored.name, content_type, stored.expires_at))
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            conn.execute("DELETE FROM results WHERE token = ?", (stored.token,))
            raise
        return stored

    def open(self, name: str) -> Opened | None:
        token = token_of(name)
        if token is None:
            return None
        row = self.db.connect().execute("SELECT * FROM results WHERE token = ?",
                                        (token,)).fetchone()
        if row is None or row["expires_at"] <= time.time() or row["filename"] != name:
            return None
        try:
            f = open(self.files / row["filename"], "rb")  # noqa: SIM115 - closed by _chunks
        except OSError:  # deleted or unreadable behind our back
            return None
        stored = Stored(token, row["content_type"], row["expires_at"])
        return Opened(stored, os.fstat(f.fileno()).st_size, _chunks(f))

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


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    with f:
        while chunk := f.read(CHUNK):
            yield chunk
