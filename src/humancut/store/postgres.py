"""PostgreSQL keys (`postgresql://user[:password]@host:port/dbname`), shared by any number of
server processes. psycopg 3 with a connection pool; each call takes a checked connection, so
a restarted server is reconnected to without restarting humancut, and a call that cannot get
one within `backend_timeout` answers `busy` (outage.py).

A call costs three statements (docs/multi-process.md, "What it costs"): the key's check, its
credit, its usage. The pool's check costs no round trip (`gone`), statements are prepared on
first use, and the pool is sized to the workers (`pool_size`)."""

from __future__ import annotations

import contextlib
import json
import logging
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from ..settings import Settings
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
from .outage import unavailable
from .tasks import TASK_MIGRATIONS, TaskStore

# Migrations in order; the schema's version is how many have run. Never edit one: append.
MIGRATIONS = [
    """CREATE TABLE keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active',
        credits BIGINT CHECK (credits >= 0),
        created_at DOUBLE PRECISION NOT NULL,
        rate_per_minute INTEGER,
        max_in_flight INTEGER
    )""",
    USAGE_TABLE,
    AUDIT_TABLE.format(serial="BIGSERIAL"),
    AUDIT_INDEX,
    *TASK_MIGRATIONS,
]
MIGRATION_LOCK = 0x68756D616E637574  # "humancut": servers starting at once migrate in turn
T = TypeVar("T")
log = logging.getLogger("humancut.store")


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Bring the schema to the latest version in one transaction, under an advisory lock
    released with it; the version reached."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS humancut_schema_version "
                     "(version INTEGER NOT NULL, migrated_at TIMESTAMPTZ DEFAULT now())")
        row = conn.execute("SELECT coalesce(max(version), 0) FROM humancut_schema_version"
                           ).fetchone()
        version = row[0] if row else 0
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute(sql)
            conn.execute("INSERT INTO humancut_schema_version (version) VALUES (%s)", (number,))
    return len(MIGRATIONS)


def pool_size(workers: int) -> int:
    """Connections kept open: a call holds one for a statement at a time, so about two per
    worker (a call in the model, its neighbours being admitted or counted) covers the
    server's own bound, and all are opened at start, none on a call's time."""
    return min(32, max(4, 2 * workers + 2))


def gone(conn: psycopg.Connection[Any]) -> bool:
    """Whether a pooled connection is gone, without a round trip (psycopg_pool's own check
    sends an empty query each time a connection is taken): an idle connection has nothing
    to read, so one that has something (the server's "terminating connection" notice, or
    its close) is gone. A server that vanished without a word is found by the statement
    itself, which answers `busy`, and the pool discards that connection."""
    if conn.closed or conn.broken:
        return True
    poll = select.poll()  # not select(): a busy server's descriptors may be past 1024
    poll.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poll.poll(0))


class PostgresKeyStore(SQLKeyStore, TaskStore):
    _claim_lock = " FOR UPDATE SKIP LOCKED"  # two servers never take the same task

    def __init__(self, url: str, timeout: float = 5.0, size: int = 6):
        # A direct connection first: its error says why (wrong password, unknown host), where
        # a pool would only time out.
        with psycopg.connect(url, connect_timeout=max(1, round(timeout))) as conn:
            migrate(conn)
        self.pool = ConnectionPool(
            url, min_size=size, max_size=size, timeout=timeout, open=False, check=self._alive,
            reconnect_timeout=max(60.0, timeout), configure=_prepare_at_once,
            kwargs={"autocommit": True, "row_factory": dict_row,
                    "connect_timeout": max(1, round(timeout))})
        self._sweeping = threading.Lock()
        self._local = threading.local()  # the connection atomic() holds, per thread
        self.pool.open(wait=True, timeout=timeout)

    def _alive(self, conn: psycopg.Connection[Any]) -> None:
        """The pool's check: a gone connection is replaced; and since one gone means the
        server restarted, the others are looked at now, in the background, rather than
        each on a call's time (with the pool's backoff between them)."""
        if not gone(conn):
            return
        conn.close()  # so the pool discards it (psycopg has not read the news yet)
        if self._sweeping.acquire(blocking=False):
            threading.Thread(target=self._sweep, daemon=True).start()
        raise psycopg.OperationalError("the server closed this idle connection")

    def _sweep(self) -> None:
        try:
            self.pool.check()
        except Exception:  # noqa: BLE001 - the pool closed meanwhile; calls find out
            pass
        finally:
            self._sweeping.release()

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> PostgresKeyStore:
        s = settings or Settings()
        return cls(url, s.backend_timeout, pool_size(s.workers))

    def _run(self, use: Callable[[psycopg.Connection[Any]], T]) -> T:
        try:
            pinned = getattr(self._local, "conn", None)  # inside atomic()
            if pinned is not None:
                return use(pinned)
            with self.pool.connection() as conn:
                return use(conn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unavailable("key store", exc) from None

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:  # nested: the outer one decides
            yield
            return
        try:
            with self.pool.connection() as conn, conn.transaction():
                self._local.conn = conn
                try:
                    yield
                finally:
                    self._local.conn = None
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unavailable("key store", exc) from None

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Mapping[str, Any]]:
        def run(conn: psycopg.Connection[Any]) -> list[Mapping[str, Any]]:
            cur = conn.execute(sql.format(p="%s"), tuple(params))
            return cur.fetchall() if cur.description else []

        return self._run(run)

    def _one(self, sql: str, params: tuple[object, ...] = ()) -> dict[str, Any] | None:
        return self._run(lambda c: c.execute(sql, params).fetchone())

    def create(self, name: str = "", credits: int | None = None, *,
               rate_per_minute: int | None = None,
               max_in_flight: int | None = None) -> tuple[ApiKey, str]:
        check_limits(credits=credits, rate_per_minute=rate_per_minute,
                     max_in_flight=max_in_flight)
        key_id, secret, secret_hash = new_secret()
        key = ApiKey(key_id, name, "active", credits, time.time(), rate_per_minute,
                     max_in_flight)
        self.restore(key, secret_hash)
        return key, secret

    def authenticate(self, secret: str) -> ApiKey | None:
        row = self._one("SELECT * FROM keys WHERE id = %s", (key_id_of(secret),))
        if not matches(secret, row["secret_sha256"] if row else None):
            return None
        return key_from_row(row)

    def get(self, key_id: str) -> ApiKey | None:
        row = self._one("SELECT * FROM keys WHERE id = %s", (key_id,))
        return key_from_row(row) if row else None

    def list(self) -> list[ApiKey]:
        return [key for key, _ in self.export()]

    def set_status(self, key_id: str, status: str) -> bool:
        check_status(status)
        return self._one("UPDATE keys SET status = %s WHERE id = %s RETURNING id",
                         (status, key_id)) is not None

    def reserve_credit(self, key_id: str) -> bool:
        # One conditional UPDATE: atomic across every server process. Unlimited keys (NULL)
        # match too and stay NULL.
        return self._one("UPDATE keys SET credits = credits - 1 WHERE id = %s AND "
                         "(credits IS NULL OR credits > 0) RETURNING id", (key_id,)) is not None

    def refund_credit(self, key_id: str) -> None:
        # A refund must not be lost to a short outage: retry while PostgreSQL restarts, then
        # leave a log line to reconcile by hand.
        deadline = time.monotonic() + 30
        while True:
            try:
                self._one("UPDATE keys SET credits = credits + 1 WHERE id = %s AND "
                          "credits IS NOT NULL RETURNING id", (key_id,))
                return
            except Exception as exc:  # noqa: BLE001 - retried, then logged
                if time.monotonic() > deadline:
                    log.error(json.dumps({"event": "refund_failed", "key_id": key_id,
                                          "error": str(exc)}))
                    return
                time.sleep(0.5)

    def export(self) -> Iterator[tuple[ApiKey, str]]:
        rows = self._run(lambda c: c.execute("SELECT * FROM keys ORDER BY created_at")
                         .fetchall())
        return iter([(key_from_row(r), r["secret_sha256"]) for r in rows])

    def restore(self, key: ApiKey, secret_hash: str) -> None:
        self._run(lambda c: c.execute(UPSERT.format(p="%s"),
                                      upsert_values(key, secret_hash)))

    def close(self) -> None:
        self.pool.close()


def _prepare_at_once(conn: psycopg.Connection[Any]) -> None:
    # Server-side prepared statements from the first use (psycopg's default: the fifth); the
    # few statements of a call are the same every time.
    conn.prepare_threshold = 0

