"""Two `humancut serve` processes sharing PostgreSQL keys, Redis limits and S3 results (moto):
credits exact across them, limits global, results served by either, survival of a kill -9,
a PostgreSQL restart and a Redis outage, and start-up refusing bad configuration."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from humancut.store import open_backend
from humancut.store.keys import key_id_of, utc_day
from tests.support.images import FIXTURES, decode, encode
from tests.support.server import ROUTE, Server, start

pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytest.importorskip("redis", reason="the redis extra is not installed")
pytest.importorskip("boto3", reason="the s3 extra is not installed")

from humancut.settings import Settings  # noqa: E402
from tests.support import services  # noqa: E402 - after the skips above

TTL, LEASE = 8, 4
BUCKET = "hc-multi"
BACKEND_TIMEOUT = 2  # seconds a call waits for PostgreSQL/Redis/S3 before answering busy


def photo(side: int = 96) -> bytes:
    from PIL import Image

    img = Image.open(FIXTURES / "astronaut.jpg").convert("RGB")
    img.thumbnail((side, side))
    return encode(img, "JPEG", quality=85)


@pytest.fixture(scope="module")
def shared_env(postgres, redis_server, moto) -> dict[str, str]:
    moto.create_bucket(BUCKET)
    return {**services.AWS_ENV, "HUMANCUT_KEYS_URL": postgres.url(),
            "HUMANCUT_LIMITS_URL": redis_server.url(2),
            "HUMANCUT_RESULTS_URL": f"s3://{BUCKET}/results",
            "HUMANCUT_S3_ENDPOINT_URL": moto.endpoint, "HUMANCUT_RESULT_TTL": str(TTL),
            "HUMANCUT_LEASE_TTL": str(LEASE), "HUMANCUT_BACKEND_TIMEOUT": str(BACKEND_TIMEOUT),
            "HUMANCUT_THREADS": "1", "HUMANCUT_FUSION_SIZE": "0", "HUMANCUT_CLOSER_SIZE": "0",
            "HUMANCUT_ZOOM": "0"}


@pytest.fixture(scope="module")
def pair(shared_env, tmp_path_factory) -> Iterator[list[Server]]:
    servers = [start(tmp_path_factory.mktemp(f"replica{i}"), env=shared_env) for i in (0, 1)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def keys(postgres):  # noqa: ANN201 - the key store both servers use, for balances
    store = open_backend(Settings(keys_url=postgres.url()), "keys_url")
    yield store
    store.close()


async def post_all(urls: list[str], secret: str, image: bytes,
                   timeout: float = 120) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=timeout,
                                 limits=httpx.Limits(max_connections=200)) as client:
        return await asyncio.gather(*(client.post(
            url + ROUTE, headers={"ailabapi-api-key": secret},
            files={"image": ("p.jpg", image, "image/jpeg")}) for url in urls))


def codes(responses: list[httpx.Response]) -> list[str]:
    return [r.json()["error_code_str"] for r in responses]


def test_credits_and_usage_are_exact_across_processes(pair, keys) -> None:
    secret = pair[0].create_key(10, "--rate", "0", "--concurrency", "0")
    urls = [pair[i % 2].url for i in range(100)]
    before = utc_day()
    responses = asyncio.run(post_all(urls, secret, photo()))
    after = utc_day()
    got = codes(responses)
    assert got.count("") == 10, got
    assert got.count("ERROR_NOT_ENOUGH_CREDITS") == 90
    assert {r.status_code for r in responses} == {200, 429}
    assert keys.get(key_id_of(secret)).credits == 0
    # Usage, written by both servers into the one store: exactly the outcomes, on the day.
    usage = keys.usage(before, after, key_id_of(secret))
    assert sum(u.images for u in usage) == sum(u.credits for u in usage) == 10
    assert sum(u.failures.get("no_credits", 0) for u in usage) == 90
    assert {u.day for u in usage} <= {before, after}


def test_rate_limit_is_global(pair) -> None:
    secret = pair[1].create_key(None, "--rate", "5", "--concurrency", "0")
    responses = asyncio.run(post_all([pair[i % 2].url for i in range(20)], secret, photo()))
    got = codes(responses)
    assert got.count("") == 5 and got.count("EXCEEDING_LIMITS") == 15, got
    served_by = {r.url.port for r, c in zip(responses, got, strict=True) if c == ""}
    assert served_by  # both servers counted against one limit
    for r in responses:
        if r.status_code == 429:
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            assert r.headers["X-RateLimit-Limit"] == "5"


def test_result_served_by_either_until_its_ttl(pair) -> None:
    secret = pair[0].create_key(None)
    (answer,) = asyncio.run(post_all([pair[0].url], secret, photo()))
    url = answer.json()["data"]["image_url"]
    assert url.startswith(pair[0].url + "/api/results/")
    path = url.removeprefix(pair[0].url)
    bodies = [httpx.get(s.url + path, timeout=30) for s in pair]
    assert [b.status_code for b in bodies] == [200, 200]
    assert bodies[0].content == bodies[1].content
    alpha = np.asarray(decode(bodies[1].content).convert("RGBA"))[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255  # a person, cut out
    time.sleep(TTL + 0.5)
    for s in pair:
        gone = httpx.get(s.url + path, timeout=30)
        assert gone.status_code == 404
        assert gone.json()["error_code_str"] == "ERROR_RESOURCE_NOT_FOUND"


def leases(redis_server, secret: str) -> int:
    import redis

    with redis.Redis.from_url(redis_server.url(2)) as r:
        return r.zcard(f"humancut:{{{key_id_of(secret)}}}:leases")


def test_kill_9_frees_its_slots_and_keeps_balances(pair, keys, redis_server) -> None:
    secret = pair[0].create_key(40, "--concurrency", "2")
    key_id = key_id_of(secret)
    victim, survivor = pair
    big = photo(640)
    outcome: list[list[httpx.Response]] = []
    load = threading.Thread(target=lambda: outcome.append(_quietly(
        [victim.url] * 6, secret, big)))
    load.start()
    deadline = time.monotonic() + 60
    while leases(redis_server, secret) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert leases(redis_server, secret) == 2
    victim.stop(signal.SIGKILL)
    load.join(60)
    lost_in_flight = 2
    # The dead server's slots hold until their lease ends, then free themselves.
    (refused,) = asyncio.run(post_all([survivor.url], secret, photo()))
    assert refused.json()["error_code_str"] == "EXCEEDING_LIMITS"
    time.sleep(LEASE + 0.5)
    answered = asyncio.run(post_all([survivor.url] * 2, secret, photo()))
    assert codes(answered) == ["", ""]
    done_before = sum(1 for r in (outcome[0] if outcome else []) if isinstance(r, httpx.Response)
                      and r.status_code == 200)
    balance = keys.get(key_id).credits
    assert 40 - done_before - 2 - lost_in_flight <= balance <= 40 - done_before - 2
    pair[0] = victim.restart()


def _quietly(urls: list[str], secret: str, image: bytes) -> list[object]:
    async def one(client: httpx.AsyncClient, url: str) -> object:
        try:
            return await client.post(url + ROUTE, headers={"ailabapi-api-key": secret},
                                     files={"image": ("p.jpg", image, "image/jpeg")})
        except httpx.HTTPError as exc:  # the server died mid-call
            return exc

    async def run() -> list[object]:
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(*(one(client, u) for u in urls))

    return asyncio.run(run())


def test_postgres_restart_answers_in_the_envelope_and_refunds(pair, keys, postgres) -> None:
    secret = pair[0].create_key(1000, "--rate", "0", "--concurrency", "0")
    answers: list[httpx.Response] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(400):  # bounded; stopped well before
                if stop.is_set():
                    return
                started = time.monotonic()
                r = client.post(pair[i % 2].url + ROUTE, headers={"ailabapi-api-key": secret},
                                files={"image": ("p.jpg", photo(), "image/jpeg")})
                assert time.monotonic() - started < 25
                answers.append(r)

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(1.5)
    postgres.stop("fast")
    # Longer than a call in flight at the stop can wait on its last write plus the next one's
    # wait for a connection: a call that starts in the outage and outlasts its wait answers busy.
    time.sleep(3 * BACKEND_TIMEOUT)
    postgres.start()
    time.sleep(3)
    stop.set()
    worker.join(60)
    got = codes(answers)
    assert set(got) <= {"", "AI_SERVICE_FLOW_RESTRICTION"}, set(got)
    assert "AI_SERVICE_FLOW_RESTRICTION" in got  # the outage was seen, in the envelope
    for r in answers:
        if r.status_code == 503:
            assert r.headers["Retry-After"] == "5"
    # Recovered without a restart, on both, once the pool's reconnect backoff (a few seconds;
    # longer on a loaded machine) has passed: busy envelopes until then, nothing else; every
    # failed call refunded.
    deadline = time.monotonic() + 30
    while True:
        after = codes(asyncio.run(post_all([s.url for s in pair], secret, photo())))
        assert set(after) <= {"", "AI_SERVICE_FLOW_RESTRICTION"}, after
        got += after
        if after == ["", ""] or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert after == ["", ""]
    assert keys.get(key_id_of(secret)).credits == 1000 - got.count("")


def test_redis_down_admits_without_limits(pair, redis_server) -> None:
    secret = pair[1].create_key(None, "--rate", "1")
    redis_server.stop()
    try:
        answers = asyncio.run(post_all([s.url for s in pair] * 2, secret, photo()))
    finally:
        redis_server.start()  # the same port: the limiter reconnects by itself
    assert codes(answers) == [""] * 4  # the documented choice: open, not 503
    assert all("X-RateLimit-Limit" not in r.headers for r in answers)
    assert '"limits_skipped"' in pair[0].log() + pair[1].log()
    back = asyncio.run(post_all([pair[0].url, pair[1].url], secret, photo()))
    assert sorted(codes(back)) == ["", "EXCEEDING_LIMITS"]  # limits are back, global


@pytest.mark.parametrize("setting", ["keys password", "keys host", "limits", "bucket"])
def test_bad_configuration_stops_start_up(shared_env, postgres, setting: str, tmp_path) -> None:
    far = ".".join(["x" * 60] * 5) + ".invalid"  # refused by the resolver: stays on loopback
    env, named = {
        "keys password": ({"HUMANCUT_KEYS_URL": postgres.url(password="nope-pw")},
                          "HUMANCUT_KEYS_URL"),
        "keys host": ({"HUMANCUT_KEYS_URL": f"postgresql://humancut:pw@{far}/db"},
                      "HUMANCUT_KEYS_URL"),
        "limits": ({"HUMANCUT_LIMITS_URL": f"redis://127.0.0.1:{services.free_port()}/0"},
                   "HUMANCUT_LIMITS_URL"),
        "bucket": ({"HUMANCUT_RESULTS_URL": "s3://no-such-bucket/x"}, "HUMANCUT_RESULTS_URL"),
    }[setting]
    done = subprocess.run([sys.executable, "-m", "humancut.cli", "serve", "--port",
                           str(services.free_port()), "--data-dir", str(tmp_path)],
                          env={**os.environ, **shared_env, **env}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 6  # a backend that cannot be reached (docs/cli.md)
    assert f"humancut: {named}=" in done.stderr
    assert "nope-pw" not in done.stderr and "Traceback" not in done.stderr


# ---- docs/multi-process.md, run as written ---------------------------------------------

def doc_blocks() -> list[str]:
    text = (services.ROOT / "docs" / "multi-process.md").read_text()
    return [b.split("\n", 1)[1] for b in text.split("```")[1::2] if b.startswith("sh\n")]


def test_the_docs_commands_give_two_servers_sharing_everything(postgres, redis_server,
                                                               moto, tmp_path) -> None:
    start_block, stop_block = doc_blocks()
    work = tmp_path / "multi"
    ports = {name: str(services.free_port()) for name in
             ("PG_PORT", "REDIS_PORT", "S3_PORT", "PORT_A", "PORT_B")}
    os.chmod(tmp_path, 0o755)  # PostgreSQL runs as another user when we are root
    for parent in tmp_path.parents:
        if str(parent).startswith("/tmp/") or parent == tmp_path.parent:
            os.chmod(parent, os.stat(parent).st_mode | 0o005)
    env = {**os.environ, **ports, "WORK": str(work),
           "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    shell = subprocess.Popen(["bash", "-e"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=open(tmp_path / "shell.err", "w"), text=True, env=env)
    assert shell.stdin and shell.stdout
    try:
        shell.stdin.write(start_block + "\necho __started__\n")
        shell.stdin.flush()
        lines: list[str] = []
        for _ in range(200):  # pg_ctl's chatter, the key, the marker
            lines.append(shell.stdout.readline().strip())
            if lines[-1] in ("__started__", ""):
                break
        assert lines[-1] == "__started__", (tmp_path / "shell.err").read_text()
        secret = lines[-2]
        urls = [f"http://127.0.0.1:{ports[p]}" for p in ("PORT_A", "PORT_B")]
        for url in urls:
            _wait_ready(url, work)
        answers = asyncio.run(post_all(urls, secret, photo()))
        assert codes(answers) == ["", ""]
        path = answers[0].json()["data"]["image_url"].removeprefix(urls[0])
        assert httpx.get(urls[1] + path, timeout=30).status_code == 200
        pg_url = f"postgresql://humancut:pg-password@127.0.0.1:{ports['PG_PORT']}/humancut"
        store = open_backend(Settings(keys_url=pg_url), "keys_url")
        assert store.get(key_id_of(secret)).credits == 98  # one balance for both
        store.close()
    finally:
        shell.stdin.write(stop_block + "\nexit\n")
        shell.stdin.flush()
        shell.wait(60)
    assert shell.returncode == 0, (tmp_path / "shell.err").read_text()


def _wait_ready(url: str, work) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready:\n{(work / 'a.log').read_text()[-2000:]}")
