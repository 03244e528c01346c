"""Keys and results on SQLite files on disk."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from humancut import HumancutError, Settings
from humancut.errors import ConfigError
from humancut.store import FileResultStore, MemoryLimiter, SQLiteKeyStore, open_backends, open_keys


def test_keys_are_stored_only_as_hashes(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    key, secret = store.create("alice", credits=3)
    raw = (tmp_path / "keys.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("keys.db-*"))
    assert secret.encode() not in raw and secret.split("_", 2)[2].encode() not in raw
    assert store.authenticate(secret) == key
    assert store.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert store.authenticate("") is None and store.authenticate("hc_x") is None


def test_status_changes_and_restart(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    key, secret = store.create()
    assert store.set_status(key.id, "disabled") and not store.set_status("missing", "active")
    with pytest.raises(ValueError):
        store.set_status(key.id, "weird")
    again = SQLiteKeyStore(tmp_path / "keys.db")  # a new process would see the same
    assert again.authenticate(secret).status == "disabled"
    assert [k.id for k in again.list()] == [key.id]


def test_credits_are_exact_under_threads(tmp_path):
    store = SQLiteKeyStore(tmp_path / "keys.db")
    key, _ = store.create(credits=10)
    wins: list[bool] = []
    lock = threading.Lock()

    def take() -> None:
        ok = store.reserve_credit(key.id)
        with lock:
            wins.append(ok)

    threads = [threading.Thread(target=take) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 10 and store.get(key.id).credits == 0
    store.refund_credit(key.id)
    assert store.get(key.id).credits == 1
    unlimited, _ = store.create()
    assert all(store.reserve_credit(unlimited.id) for _ in range(5))
    assert store.get(unlimited.id).credits is None


def read(store: FileResultStore, name: str) -> bytes | None:
    found = store.open(name)
    return None if found is None else b"".join(found.chunks)


def test_results_expire_and_sweep(tmp_path):
    store = FileResultStore(tmp_path / "results")
    live = store.put(b"png-bytes", "image/png", ttl=60)
    dead = store.put(b"old", "image/png", ttl=0.01)
    time.sleep(0.05)
    assert live.name == live.token + ".png"
    assert read(store, live.name) == b"png-bytes" and store.open(live.name).size == 9
    assert read(store, dead.name) is None
    assert read(store, live.token + ".jpg") is None  # the extension is part of the name
    assert store.sweep() == 1
    assert not (tmp_path / "results" / dead.name).exists()
    for probe in ("../../etc/passwd", "", "index.db", "../index.db", live.token):
        assert store.open(probe) is None
    (tmp_path / "results" / live.name).unlink()  # removed behind the store's back
    assert store.open(live.name) is None
    assert store.url(live, "https://cut.example/api/results") == \
        f"https://cut.example/api/results/{live.name}"
    conn = sqlite3.connect(tmp_path / "results" / "index.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_backends_by_url(tmp_path):
    settings = Settings(data_dir=tmp_path / "d")
    backends = open_backends(settings)
    assert isinstance(backends.keys, SQLiteKeyStore) and isinstance(backends.limiter, MemoryLimiter)
    assert (tmp_path / "d" / "keys.db").is_file() and (tmp_path / "d" / "results").is_dir()
    key, secret = backends.keys.create("x")
    other = open_keys(settings.replace(keys_url=f"sqlite://{tmp_path}/d/keys.db"))
    assert other.authenticate(secret) == key
    elsewhere = settings.replace(results_url=f"file://{tmp_path}/elsewhere")
    assert open_backends(elsewhere).results.put(b"x", "image/png", 60).name
    assert (tmp_path / "elsewhere" / "index.db").is_file()


@pytest.mark.parametrize(("setting", "url", "says"), [
    ("keys_url", "mysql://u:secret@db/x", "unknown scheme 'mysql'"),
    ("keys_url", "keys.db", "unknown scheme ''"),
    ("results_url", "ftp://x/y", "unknown scheme 'ftp'"),
    ("limits_url", "memcached://x", "unknown scheme 'memcached'"),
    ("limits_url", "memory://somewhere", "expected memory://"),
    ("keys_url", "sqlite:///proc/no/such/dir/keys.db", "HUMANCUT_KEYS_URL"),
])
def test_bad_backend_urls_name_the_setting(tmp_path, setting, url, says):
    settings = Settings(data_dir=tmp_path).replace(**{setting: url})
    with pytest.raises(ConfigError) as err:
        open_backends(settings)
    assert f"HUMANCUT_{setting.upper()}" in str(err.value) and says in str(err.value)
    assert "secret" not in str(err.value)


def test_memory_limiter_counts_a_minute_and_in_flight():
    now = [1000.0]
    limiter = MemoryLimiter(clock=lambda: now[0])

    async def scenario() -> None:
        first = await limiter.acquire("k", 3, 2)
        assert first.headers == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2",
                                 "X-RateLimit-Reset": "60"}
        second = await limiter.acquire("k", 3, 2)
        with pytest.raises(HumancutError) as err:  # two in flight
            await limiter.acquire("k", 3, 2)
        assert err.value.code == "rate_limited" and err.value.headers["Retry-After"] == "1"
        assert "2 requests in progress" in err.value.message
        await limiter.release("k", second)
        now[0] += 10
        await limiter.release("k", await limiter.acquire("k", 3, 2))
        with pytest.raises(HumancutError) as err:  # three in the minute
            await limiter.acquire("k", 3, 2)
        assert err.value.headers["Retry-After"] == "50"
        assert err.value.headers["X-RateLimit-Remaining"] == "0"
        assert "3 requests a minute" in err.value.message
        now[0] += 50.5
        await limiter.release("k", first)
        left = await limiter.acquire("k", 3, 2)  # the hit at 1010 is still in the minute
        assert left.headers["X-RateLimit-Remaining"] == "1"
        with pytest.raises(HumancutError) as err:
            await limiter.acquire("one", 0, 1) and await limiter.acquire("one", 0, 1)
        assert "1 request in progress at once" in err.value.message  # not "1 requests"
        assert "X-RateLimit-Limit" not in err.value.headers  # no rate limit, no rate headers

    asyncio.run(scenario())
