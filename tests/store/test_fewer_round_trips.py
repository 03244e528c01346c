"""What makes a call on shared backends cheaper (docs/multi-process.md, "What it costs") keeps
its guarantees: the key's check and its credit in one statement stay exact under
concurrency, never charge a wrong secret or a refused key, and the pool's check without a
round trip still replaces the connections a PostgreSQL restart closed. The embedded store's
version (two statements) answers the same."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from humancut.settings import Settings
from humancut.store import open_backend
from humancut.store.sqlite import SQLiteKeyStore

pytest.importorskip("psycopg", reason="the postgres extra is not installed")


def wrong(secret: str) -> str:
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def check_authenticate_and_reserve(store) -> None:  # noqa: ANN001 - any KeyStore
    key, secret = store.create("c", 25)
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda _: store.authenticate_and_reserve(secret), range(60)))
    assert all(k is not None and k.id == key.id for k, _ in got)
    assert [taken for _, taken in got].count(True) == 25 and store.get(key.id).credits == 0
    store.refund_credit(key.id)
    assert store.authenticate_and_reserve(wrong(secret)) == (None, False)
    assert store.authenticate_and_reserve("hc_nonsense") == (None, False)
    assert store.get(key.id).credits == 1  # a wrong secret with the right id takes nothing
    store.set_status(key.id, "disabled")
    refused, taken = store.authenticate_and_reserve(secret)
    assert refused is not None and refused.status == "disabled" and not taken
    assert store.get(key.id).credits == 1
    unlimited, secret_u = store.create("u")
    assert store.authenticate_and_reserve(secret_u) == (unlimited, True)
    assert store.get(unlimited.id).credits is None
    store.set_status(unlimited.id, "revoked")
    assert store.authenticate_and_reserve(secret_u)[1] is False


def test_postgres_authenticate_and_reserve_in_one_statement(postgres) -> None:
    store = open_backend(Settings(keys_url=postgres.url(), backend_timeout=3), "keys_url")
    try:
        check_authenticate_and_reserve(store)
    finally:
        store.close()


def test_sqlite_authenticate_and_reserve(tmp_path) -> None:
    check_authenticate_and_reserve(SQLiteKeyStore(tmp_path / "keys.db"))


def test_postgres_pool_is_sized_to_the_workers(postgres) -> None:
    from humancut.store.postgres import pool_size

    assert [pool_size(w) for w in (1, 2, 8, 64)] == [4, 6, 18, 32]
    store = open_backend(Settings(keys_url=postgres.url(), workers=3), "keys_url")
    try:  # all opened at start, none on a call's time
        assert store.pool.get_stats()["pool_size"] == store.pool.max_size == pool_size(3)
    finally:
        store.close()


def test_postgres_restart_gone_connections_are_replaced(postgres) -> None:
    from humancut.store.postgres import gone

    store = open_backend(Settings(keys_url=postgres.url(), backend_timeout=5), "keys_url")
    try:
        key, secret = store.create("r", 10)
        with store.pool.connection() as conn:
            assert not gone(conn)  # an idle, healthy connection: nothing to read
        postgres.stop("fast")
        postgres.start()
        # Every pooled connection was closed by the restart; the first call after it
        # replaces them (the check costs no round trip, yet sees them gone) and succeeds.
        started = time.monotonic()
        assert store.authenticate_and_reserve(secret)[1]
        assert store.get(key.id).credits == 9
        print(f"first call after the restart: {time.monotonic() - started:.2f} s")
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 10
        while store.pool.get_stats().get("pool_available", 0) < store.pool.max_size - 1 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        with store.pool.connection() as conn:
            assert not gone(conn) and conn.execute("SELECT 1").fetchone() is not None
    finally:
        store.close()


def test_s3_put_is_one_round_trip_without_checksum_headers() -> None:
    """botocore would send `Expect: 100-continue` and wait for the server's go-ahead before
    each result's body, and add a CRC32 checksum; the put carries neither."""
    pytest.importorskip("boto3", reason="the s3 extra is not installed")
    import http.server
    import threading

    from humancut.store.s3 import S3ResultStore
    from tests.support.services import AWS_ENV

    seen: list[tuple[str, dict[str, str], bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            seen.append((self.command, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.send_header("ETag", '"0"')
            self.end_headers()

        do_HEAD = do_PUT = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    import os

    os.environ.update({k: v for k, v in AWS_ENV.items() if k not in os.environ})
    try:
        store = S3ResultStore("bucket", "r/", endpoint_url=f"http://127.0.0.1:"
                                                         f"{server.server_address[1]}")
        store.put(b"png bytes", "image/png", 60)
        store.close()
    finally:
        server.shutdown()
    method, headers, body = seen[-1]
    assert method == "PUT" and body == b"png bytes"
    assert "expect" not in headers
    assert not [h for h in headers if "checksum" in h or h == "content-md5"], headers
