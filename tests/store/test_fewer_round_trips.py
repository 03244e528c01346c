"""What makes a call on shared backends cheaper (docs/multi-process.md, "What it costs") keeps
its guarantees: the pool is sized to the workers and opened at start, its check without a
round trip still replaces the connections a PostgreSQL restart closed, and an S3 put is one
round trip without checksum headers."""

from __future__ import annotations

import time

import pytest

from humancut.settings import Settings
from humancut.store import open_backend

pytest.importorskip("psycopg", reason="the postgres extra is not installed")


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
        assert store.authenticate(secret) == key and store.reserve_credit(key.id)
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
