"""The shared backends against real servers (tests/support/services.py): PostgreSQL keys, Redis
limits, S3 results (moto for the protocol, s3rver for presigned expiry), keys copy."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from humancut.errors import ConfigError, HumancutError
from humancut.settings import Settings
from humancut.store import open_backend
from humancut.store.keys import key_id_of
from humancut.store.sqlite import SQLiteKeyStore

pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytest.importorskip("redis", reason="the redis extra is not installed")
pytest.importorskip("boto3", reason="the s3 extra is not installed")

from tests.support import services  # noqa: E402 - after the skips above

os.environ.update({k: v for k, v in services.AWS_ENV.items() if k not in os.environ})


def keys_at(url: str):  # noqa: ANN201
    return open_backend(Settings(keys_url=url, backend_timeout=3), "keys_url")


# ---- PostgreSQL ------------------------------------------------------------------------

def test_postgres_credits_are_exact_under_concurrency(postgres) -> None:
    store = keys_at(postgres.url())
    key, secret = store.create("c", 25)
    assert store.authenticate(secret) == key
    assert store.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    with ThreadPoolExecutor(16) as pool:
        taken = list(pool.map(lambda _: store.reserve_credit(key.id), range(60)))
    assert taken.count(True) == 25 and store.get(key.id).credits == 0
    store.refund_credit(key.id)
    assert store.get(key.id).credits == 1
    unlimited, _ = store.create("u")
    assert all(store.reserve_credit(unlimited.id) for _ in range(5))
    assert store.get(unlimited.id).credits is None
    store.close()


def test_postgres_migrates_once_when_servers_start_together(postgres) -> None:
    with ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(lambda _: keys_at(postgres.url()), range(6)))
    import psycopg

    with psycopg.connect(postgres.url()) as conn:
        versions = conn.execute("SELECT version FROM humancut_schema_version").fetchall()
    from humancut.store.postgres import MIGRATIONS

    assert versions == [(v,) for v in range(1, len(MIGRATIONS) + 1)]
    for s in stores:
        s.close()


def test_keys_copy_sqlite_to_postgres_twice(postgres, tmp_path) -> None:
    sqlite_url = f"sqlite://{tmp_path / 'keys.db'}"
    db = f"copy_{uuid.uuid4().hex[:8]}"
    import psycopg

    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    pg_url = postgres.url(db)
    source = SQLiteKeyStore.from_url(sqlite_url)
    a, secret_a = source.create("a", 7, rate_per_minute=5, max_in_flight=2)
    b, _ = source.create("b")
    source.set_status(b.id, "disabled")

    def copy() -> str:
        done = subprocess.run([sys.executable, "-m", "humancut.cli", "keys", "copy", "--from",
                               sqlite_url, "--to", pg_url], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "2 added, 0 updated" in copy()
    target = keys_at(pg_url)
    assert target.authenticate(secret_a) == a  # the same hash: the same secret works
    assert target.get(b.id).status == "disabled"
    # Spent in the target, then copied again: the source's balance wins; revoked stays.
    target.reserve_credit(a.id)
    target.set_status(b.id, "revoked")
    assert "0 added, 2 updated" in copy()
    assert target.get(a.id).credits == 7 and target.get(b.id).status == "revoked"
    assert sorted(k.id for k in target.list()) == sorted([a.id, b.id])
    target.close()


def test_keys_cli_against_postgres(postgres) -> None:
    env = {**os.environ, "HUMANCUT_KEYS_URL": postgres.url()}

    def keys(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "humancut.cli", "keys", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    secret = keys("create", "--name", "cli", "--credits", "3").strip().splitlines()[-1]
    key_id = key_id_of(secret)
    assert f"{key_id}\tactive\t3" in keys("list")
    keys("revoke", key_id)
    assert f"{key_id}\trevoked\t3" in keys("list")


@pytest.mark.parametrize("case", ["password", "host"])
def test_postgres_bad_config_names_the_setting(postgres, case: str) -> None:
    # A name longer than DNS allows is refused by the resolver itself: nothing leaves loopback.
    host = ".".join(["x" * 60] * 5) + ".invalid"
    url = (postgres.url(password="wrong-pw") if case == "password"
           else f"postgresql://humancut:pw@{host}:5432/humancut")
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        keys_at(url)
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert message.startswith("HUMANCUT_KEYS_URL=") and "wrong-pw" not in message
    assert ("password" if case == "password" else "resolve") in message


# ---- Redis -----------------------------------------------------------------------------

def limiter_at(url: str, **settings: object):  # noqa: ANN201
    return open_backend(Settings(limits_url=url, backend_timeout=1, **settings), "limits_url")


def test_redis_limits_match_the_memory_limiter(redis_server) -> None:
    async def run() -> None:
        lim = limiter_at(redis_server.url(1), lease_ttl=2)
        key = uuid.uuid4().hex[:12]
        first = await lim.acquire(key, 3, 2)
        assert first.headers == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2",
                                 "X-RateLimit-Reset": "60"}
        second = await lim.acquire(key, 3, 2)
        with pytest.raises(HumancutError) as busy:
            await lim.acquire(key, 3, 2)
        assert busy.value.code == "rate_limited" and busy.value.headers["Retry-After"] == "1"
        await lim.release(key, first)
        await lim.acquire(key, 3, 2)
        with pytest.raises(HumancutError) as minute:
            await lim.acquire(key, 3, 0)
        assert minute.value.code == "rate_limited"
        assert 55 <= int(minute.value.headers["Retry-After"]) <= 60
        assert minute.value.headers["X-RateLimit-Remaining"] == "0"
        await lim.release(key, second)
        await lim.close()

    asyncio.run(run())


def test_redis_leases_of_a_crashed_server_expire(redis_server) -> None:
    async def run() -> None:
        lim = limiter_at(redis_server.url(1), lease_ttl=1.5)
        key = uuid.uuid4().hex[:12]
        await lim.acquire(key, 0, 1)  # never released: its server "crashed"
        with pytest.raises(HumancutError):
            await lim.acquire(key, 0, 1)
        await asyncio.sleep(1.7)
        await lim.release(key, await lim.acquire(key, 0, 1))
        await lim.close()

    asyncio.run(run())


def test_redis_down_open_or_busy(redis_server, caplog) -> None:
    down = services.Redis()  # started, then stopped: a port where Redis was
    down.start()
    try:
        open_lim = limiter_at(down.url())
        busy_lim = limiter_at(down.url(), limits_unreachable="busy")
    finally:
        down.close()

    async def run() -> None:
        admitted = await open_lim.acquire("k", 5, 1)
        assert admitted.headers == {}  # admitted, nothing counted
        await open_lim.release("k", admitted)
        with pytest.raises(HumancutError) as err:
            await busy_lim.acquire("k", 5, 1)
        assert err.value.code == "busy" and err.value.status == 503
        assert err.value.headers["Retry-After"] == "5"

    with caplog.at_level("WARNING", logger="humancut.store"):
        asyncio.run(run())
    assert "limits_skipped" in caplog.text
    with pytest.raises(ConfigError, match="^HUMANCUT_LIMITS_URL="):
        limiter_at(down.url())  # unreachable at start-up: start-up fails


# ---- S3 --------------------------------------------------------------------------------

def results_at(url: str, endpoint: str, **settings: object):  # noqa: ANN201
    return open_backend(Settings(results_url=url, s3_endpoint_url=endpoint, backend_timeout=3,
                                 **settings), "results_url")


def test_s3_results_expire_by_their_stored_expiry(moto) -> None:
    moto.create_bucket("hc-unit")
    store = results_at("s3://hc-unit/some/prefix", moto.endpoint)
    stored = store.put(b"\x89PNG data", "image/png", 1.5)
    found = store.open(stored.name)
    assert found is not None and b"".join(found.chunks) == b"\x89PNG data"
    assert found.stored.content_type == "image/png" and found.size == 9
    assert store.open("not a token.png") is None and store.open("A" * 22 + ".png") is None
    time.sleep(1.6)
    # Still in the bucket (no sweep yet), yet refused.
    assert services.s3_client(moto.endpoint).get_object(
        Bucket="hc-unit", Key=f"some/prefix/{stored.name}")["Body"].read() == b"\x89PNG data"
    assert store.open(stored.name) is None
    assert store.sweep(time.time() + 10**6) >= 1


def test_s3_missing_bucket_names_the_setting(moto) -> None:
    with pytest.raises(ConfigError) as err:
        results_at("s3://no-such-bucket", moto.endpoint)
    assert str(err.value).startswith("HUMANCUT_RESULTS_URL=s3://no-such-bucket")
    assert "not found" in str(err.value)


def test_s3_presigned_url_expires_with_the_result(s3rver) -> None:
    store = results_at(f"s3://{s3rver.bucket}/r", s3rver.endpoint, s3_urls="presigned")
    stored = store.put(b"png bytes", "image/png", 2)
    url = store.url(stored, "http://unused")
    assert url.startswith(s3rver.endpoint) and "X-Amz-Expires=2" in url
    got = httpx.get(url)
    assert got.status_code == 200 and got.content == b"png bytes"
    time.sleep(3.2)
    assert httpx.get(url).status_code == 403


def test_flowbench_measures_both_backends(postgres, redis_server, moto) -> None:
    from humancut.bench import flow as flowbench

    moto.create_bucket("hc-flowbench")
    shared = Settings(keys_url=postgres.url(), limits_url=redis_server.url(3),
                      results_url="s3://hc-flowbench/r", s3_endpoint_url=moto.endpoint)
    report = flowbench.run(shared, requests=5)
    assert set(report) == {"SQLite + memory + files", "PostgreSQL + Redis + S3"}
    assert all(r["requests"] == 5 and 0 < r["p50"] <= r["p95"] for r in report.values())
    table = flowbench.render(report)
    assert table.startswith("| backends | p50 ms | p95 ms |")
    more = report["PostgreSQL + Redis + S3"]["p50"] - report["SQLite + memory + files"]["p50"]
    assert table.splitlines()[-1].startswith(f"| shared over embedded | {more:+.1f} | ")
