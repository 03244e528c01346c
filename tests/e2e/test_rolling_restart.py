"""Rolling restarts behind a real load balancer (docs/deploy.md#rolling-restarts): Debian's
haproxy on deploy/haproxy.cfg as shipped, in front of two `humancut serve` replicas sharing
PostgreSQL keys, Redis limits and one results folder, all on loopback. Each replica in turn
gets SIGTERM (its /readyz answers 503, haproxy takes it out, its calls finish, it exits 0)
and is started again, while a client sends calls at concurrency 8: not one call fails, and
the credits are exact. HUMANCUT_ROLLING_SECONDS sets how long the restarts go on (default
120; at least one round whatever it says)."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from humancut.store import open_backend
from humancut.store.keys import key_id_of, utc_day
from tests.support.images import FIXTURES, encode
from tests.support.server import ROUTE, Server

pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytest.importorskip("redis", reason="the redis extra is not installed")

from humancut.settings import Settings  # noqa: E402
from tests.support import services  # noqa: E402 - after the skips above

SECONDS = float(os.environ.get("HUMANCUT_ROLLING_SECONDS", "120"))
CONCURRENCY = 8
DRAIN = 5  # s: deploy/haproxy.cfg's checks (inter 1s, fall 2) take a replica out in ~2 s
CREDITS = 1_000_000
MAX_CALLS = 100_000  # a bound whatever the machine's speed


def photo(side: int = 96) -> bytes:
    from PIL import Image

    img = Image.open(FIXTURES / "astronaut.jpg").convert("RGB")
    img.thumbnail((side, side))
    return encode(img, "JPEG", quality=85)


@pytest.fixture(scope="module")
def haproxy_installed() -> None:
    why = services.missing("haproxy")
    if why:
        pytest.skip(why)


@pytest.fixture
def shared_env(postgres, redis_server, tmp_path) -> dict[str, str]:
    return {"HUMANCUT_KEYS_URL": postgres.url(), "HUMANCUT_LIMITS_URL": redis_server.url(5),
            "HUMANCUT_RESULTS_URL": f"file://{tmp_path / 'results'}",
            "HUMANCUT_DRAIN_SECONDS": str(DRAIN), "HUMANCUT_LOG_LEVEL": "warning",
            "HUMANCUT_THREADS": "1", "HUMANCUT_FUSION_SIZE": "0", "HUMANCUT_CLOSER_SIZE": "0",
            "HUMANCUT_ZOOM": "0"}


def replica(tmp_path: Path, name: str, env: dict[str, str], port: int | None = None) -> Server:
    return Server(tmp_path / name / "data", env=env, port=port)


def test_sigterm_drains_readyz_503_calls_still_taken_then_exit_0(shared_env, tmp_path):
    """The drain alone: after SIGTERM /readyz answers 503 at once, a call is still answered
    (with Connection: close) until the drain ends, then the listener closes; exit 0."""
    s = replica(tmp_path, "one", shared_env).start()
    key = s.new_key("drain", 10)
    try:
        s.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert httpx.get(s.url + "/readyz", timeout=5).status_code == 503
        r = httpx.post(s.url + ROUTE, headers={"ailabapi-api-key": key},
                       files={"image": ("p.jpg", photo())}, timeout=60)
        assert r.status_code == 200 and r.headers["connection"] == "close", r.text
        assert time.monotonic() - signalled < DRAIN
        assert s.process.wait(DRAIN + 30) == 0, s.log()
        assert time.monotonic() - signalled >= DRAIN
        with pytest.raises(httpx.ConnectError):
            httpx.get(s.url + "/healthz", timeout=2)
        assert "still taking calls for 5 s" in s.log()
    finally:
        s.stop()


class Client:
    """CONCURRENCY callers posting the photo through the balancer until told to stop; every
    answer's status, or the exception in its place, is kept."""

    def __init__(self, url: str, key: str):
        self.url, self.key, self.data = url, key, photo()
        self.outcomes: Counter[str] = Counter()
        self.sample_urls: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=90) as client:
            await asyncio.gather(*(self._caller(client) for _ in range(CONCURRENCY)))

    async def _caller(self, client: httpx.AsyncClient) -> None:
        while not self.stop.is_set() and self.outcomes.total() < MAX_CALLS:
            try:
                r = await client.post(ROUTE, headers={"ailabapi-api-key": self.key},
                                      files={"image": ("p.jpg", self.data, "image/jpeg")})
                outcome = str(r.status_code)
                if r.status_code == 200 and len(self.sample_urls) < 50:
                    self.sample_urls.append(r.json()["data"]["image_url"])
                elif r.status_code != 200:
                    outcome += " " + r.text[:200]
            except httpx.HTTPError as exc:
                outcome = f"{type(exc).__name__}: {exc}"
            self.outcomes[outcome] += 1

    @property
    def succeeded(self) -> int:
        return self.outcomes["200"]


def wait_for(predicate, what: str, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def cluster(haproxy_installed, shared_env, tmp_path) -> Iterator[tuple[dict[str, Server],
                                                                     services.Haproxy]]:
    replicas = {name: replica(tmp_path, name, shared_env).start() for name in ("a", "b")}
    lb = services.Haproxy({name: r.port for name, r in replicas.items()}).start()
    try:
        yield replicas, lb
    finally:
        lb.close()
        for r in replicas.values():
            r.stop()


def test_rolling_restarts_behind_haproxy_lose_no_call(cluster, shared_env, tmp_path):
    replicas, lb = cluster
    store = open_backend(Settings(keys_url=shared_env["HUMANCUT_KEYS_URL"]), "keys_url")
    key, secret = store.create("rolling", CREDITS, rate_per_minute=0, max_in_flight=0)
    first_day = utc_day()

    def up(name: str) -> bool:
        return lb.stat()[name]["status"] == "UP"

    client = Client(lb.url, secret)
    client.thread.start()
    restarts, started = [], time.monotonic()
    try:
        wait_for(lambda: client.succeeded >= 20, "the first calls")
        while time.monotonic() - started < SECONDS or len(restarts) < 2:
            for name in ("a", "b"):
                other = "b" if name == "a" else "a"
                wait_for(lambda o=other: up(o), f"haproxy to see {other} up")  # type: ignore[misc]
                old = replicas[name]
                before = client.outcomes.total()
                status = old.stop(signal.SIGTERM, timeout=DRAIN + 60)
                assert status == 0, old.log()
                replicas[name] = replica(tmp_path, name, shared_env, port=old.port).start()
                wait_for(lambda n=name: up(n), f"haproxy to see {name} up again")  # type: ignore[misc]
                restarts.append((name, client.outcomes.total() - before))
        calls_after = client.outcomes.total()
        wait_for(lambda: client.outcomes.total() >= calls_after + 20, "calls after the last")
    finally:
        client.stop.set()
        client.thread.join(120)
    stat = lb.stat()
    print(f"\n{client.outcomes.total()} calls in {time.monotonic() - started:.0f} s, "
          f"{len(restarts)} restarts (calls during each: {[n for _, n in restarts]}), "
          f"outcomes {dict(client.outcomes)}, haproxy: sent a {stat['a']['stot']}, "
          f"b {stat['b']['stot']}, retries {stat['BACKEND']['wretr']}, redispatches "
          f"{stat['BACKEND']['wredis']}")
    assert not client.thread.is_alive()
    assert client.outcomes == Counter({"200": client.succeeded})  # no failure of any kind
    assert len(restarts) >= 2 and all(n > 0 for _, n in restarts)  # calls went on meanwhile
    assert store.get(key.id).credits == CREDITS - client.succeeded
    usage = store.usage(first_day, utc_day(), key.id)
    assert sum(u.images for u in usage) == client.succeeded
    assert not [u.failures for u in usage if u.failures]
    for url in client.sample_urls[::10]:  # served through the balancer, by either replica
        assert url.startswith(lb.url) and httpx.get(url, timeout=30).status_code == 200
    assert key_id_of(secret) == key.id
    store.close()
