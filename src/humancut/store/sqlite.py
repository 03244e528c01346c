"""SQLite: the embedded key store (`sqlite://PATH`), and the database helper the file result
store shares. WAL, a busy timeout, one connection a thread: safe across processes too."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .keys import (
    AUDIT_INDEX,
    AUDIT_TABLE,
    UPSERT,
    USAGE_TABLE,
    ApiKey,
    SQLKeyStore,
    check_limits,
    check_status,
    key_from_row,
    key_id_of,
    matches,
    new_secret,
    upsert_values,
)
from .tasks import TASK_MIGRATIONS, TaskStore


class Database:
    def __init__(self, path: Path, schema: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # Every thread's connection, so those of ended threads are closed (a thread pool
        # that retires idle threads would otherwise leave their files open until a
        # garbage collection: the soak saw descriptors climb by ~3 a minute).
        self._conns: dict[threading.Thread, sqlite3.Connection] = {}
        self._conns_lock = threading.Lock()
        with self.connect() as conn:
            conn.executescript(schema)

    def connect(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared across threads)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread off only so that _adopt may close it once its thread ended
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            self._adopt(conn)
        return conn

    def _adopt(self, conn: sqlite3.Connection) -> None:
        with self._conns_lock:
            for thread in [t for t in self._conns if not t.is_alive()]:
                self._conns.pop(thread).close()
            self._conns[threading.current_thread()] = conn


def url_path(url: str, scheme: str) -> Path:
    """`scheme://PATH` -> PATH as written: `sqlite:///var/keys.db` is absolute,
    `sqlite://data/keys.db` relative to the working directory."""
    path = url.removeprefix(f"{scheme}://")
    if not path or path == url:
        raise ValueError(f"expected {scheme}://PATH, got {url!r}")
    return Path(path).expanduser()


# Migrations in order, as in postgres.py; the schema's version is how many have run. Never
# edit one: append. The first is IF NOT EXISTS: files from before versioning have `keys`.
MIGRATIONS = [
    """CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        credits INTEGER,
        created_at REAL NOT NULL,
        rate_per_minute INTEGER,
        max_in_flight INTEGER
    )""",
    USAGE_TABLE,
    AUDIT_TABLE.format(serial="INTEGER"),  # INTEGER PRIMARY KEY: SQLite's rowid
    AUDIT_INDEX,
    *TASK_MIGRATIONS,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the latest version in one write transaction (servers starting
    at once migrate in turn); the version reached."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS humancut_schema_version "
                     "(version INTEGER NOT NULL, migrated_at REAL)")
        version = conn.execute("SELECT coalesce(max(version), 0) FROM humancut_schema_version"
                               ).fetchone()[0]
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(sql)
            conn.execute("INSERT INTO humancut_schema_version VALUES (?, ?)",
                         (number, time.time()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)


class SQLiteKeyStore(SQLKeyStore, TaskStore):
    def __init__(self, path: Path):
        self.db = Database(path, "")
        migrate(self.db.connect())

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Mapping[str, Any]]:
        return self.db.connect().execute(sql.format(p="?"), tuple(params)).fetchall()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        # Every statement of this thread goes through its one connection (Database), so
        # BEGIN ... COMMIT on it holds them all.
        conn = self.db.connect()
        if conn.in_transaction:  # nested: the outer one decides
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @classmethod
    def from_url(cls, url: str, settings: object = None) -> SQLiteKeyStore:
        return cls(url_path(url, "sqlite"))

    def create(self, name: str = "", credits: int | None = None, *,
               rate_per_minute: int | None = None,
               max_in_flight: int | None = None) -> tuple[ApiKey, str]:
        check_limits(credits=credits, rate_per_minute=rate_per_minute,
                     max_in_flight=max_in_flight)
        key_id, secret, secret_hash = new_secret()
        key = ApiKey(key_id, name, "active", credits, time.time(), rate_per_minute,
                     max_in_flight)
        self.db.connect().execute(
            "INSERT INTO keys (id, name, secret_sha256, status, credits, created_at,"
            " rate_per_minute, max_in_flight) VALUES (?,?,?,?,?,?,?,?)",
            (key.id, key.name, secret_hash, key.status, key.credits, key.created_at,
             key.rate_per_minute, key.max_in_flight))
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        row = self.db.connect().execute("SELECT * FROM keys WHERE id = ?",
                                        (key_id_of(secret),)).fetchone()
        if not matches(secret, row["secret_sha256"] if row else None):
            return None
        return key_from_row(row)

    def get(self, key_id: str) -> ApiKey | None:
        row = self.db.connect().execute("SELECT * FROM keys WHERE id = ?", (key_id,)).fetchone()
        return key_from_row(row) if row else None

    def list(self) -> list[ApiKey]:
        rows = self.db.connect().execute("SELECT * FROM keys ORDER BY created_at").fetchall()
        return [key_from_row(r) for r in rows]

    def set_status(self, key_id: str, status: str) -> bool:
        check_status(status)
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

    def export(self) -> Iterator[tuple[ApiKey, str]]:
        rows = self.db.connect().execute("SELECT * FROM keys ORDER BY created_at").fetchall()
        return iter([(key_from_row(r), r["secret_sha256"]) for r in rows])

    def restore(self, key: ApiKey, secret_hash: str) -> None:
        self.db.connect().execute(UPSERT.format(p="?"), upsert_values(key, secret_hash))



__all__ = ["Database", "SQLiteKeyStore", "url_path"]
