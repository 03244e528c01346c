"""The HTTP API over a real socket: the official SDK, every error code, expiry, restarts."""

from __future__ import annotations

import asyncio
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from ailabtools import AILabClient
from ailabtools.errors import AILabApiError

from tests.support.checks import assert_error, check_sdk_cut, post
from tests.support.images import encode, landscape
from tests.support.server import Server

# ---- the official client -------------------------------------------------------------

@pytest.mark.parametrize("form", [None, "mask", "whiteBK", "crop"])
def test_official_sdk_every_return_form(server, key, astronaut_bytes, form):
    check_sdk_cut(server.url, key, astronaut_bytes, form)


def test_sdk_raises_with_the_servers_message(server, astronaut_bytes):
    async def call() -> None:
        client = AILabClient("hc_000000000000_" + "x" * 43, base_url=server.url)
        try:
            await client.cutout.cutoutHumanBackgroundRemoval({"image": astronaut_bytes})
        finally:
            await client.aclose()

    with pytest.raises(AILabApiError) as err:
        asyncio.run(call())
    assert err.value.detail.status_code == 401
    assert err.value.detail.code == "ERROR_APPLICATIONS_NOT_EXISTS"


# ---- every error code ----------------------------------------------------------------





def test_errors_over_a_real_socket(server, key, astronaut_bytes):
    """The error table is tested in-process (test_flow.py); here what needs the real model
    and a real server: no person in the photo, and the envelope over HTTP."""
    def send(content: bytes, form: str | None = None) -> httpx.Response:
        return post(server, key, {"image": ("f", content)},
                    {"return_form": form} if form is not None else None)

    assert_error(send(encode(landscape())), 422, "ERROR_NO_RECOGNITION_TARGET_DETECTED")
    assert_error(send(astronaut_bytes[:20000]), 422, "FILE_DECODING_FAILURE")
    assert_error(send(astronaut_bytes, form="rainbow"), 400, "ERROR_INVALID_PARAMETER")
    assert_error(httpx.get(server.url + "/nowhere"), 404, "ERROR_RESOURCE_NOT_FOUND")








# ---- expiry and restarts -------------------------------------------------------------

def test_results_expire_and_are_swept(tmp_path, astronaut_bytes):
    s = Server(tmp_path / "data", env={"HUMANCUT_RESULT_TTL": "2",
                                       "HUMANCUT_SWEEP_INTERVAL": "1"}).start()
    try:
        key = s.create_key()
        url = post(s, key, {"image": ("a.jpg", astronaut_bytes)}).json()["data"]["image_url"]
        assert httpx.get(url).status_code == 200
        files = list((tmp_path / "data" / "results").glob("*.png"))
        assert len(files) == 1
        time.sleep(3.5)
        assert_error(httpx.get(url), 404, "ERROR_RESOURCE_NOT_FOUND")
        assert not files[0].exists()
    finally:
        s.stop()


def in_flight(server: Server) -> float:
    text = httpx.get(server.url + "/metrics", timeout=10).text
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith("humancut_in_flight "))


def test_sigterm_lets_calls_in_flight_finish_then_exits_0(tmp_path, astronaut_bytes):
    """What a rolling restart relies on: three calls in progress (one worker, so two wait),
    SIGTERM, and all three are answered before the server exits, with status 0."""
    s = Server(tmp_path / "data", extra_args=["--workers", "1"]).start()
    key = s.create_key()
    try:
        with ThreadPoolExecutor(3) as pool:
            calls = [pool.submit(post, s, key, {"image": ("a.jpg", astronaut_bytes)})
                     for _ in range(3)]
            deadline = time.monotonic() + 30
            while in_flight(s) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert in_flight(s) == 3
            s.process.send_signal(signal.SIGTERM)
            assert [c.result().status_code for c in calls] == [200] * 3
        assert s.process.wait(30) == 0, s.log()
    finally:
        s.stop()


def test_keys_and_results_survive_a_restart(tmp_path, astronaut_bytes):
    s = Server(tmp_path / "data").start()
    key = s.create_key(5)
    url = post(s, key, {"image": ("a.jpg", astronaut_bytes)}).json()["data"]["image_url"]
    s.stop(signal.SIGKILL)
    s2 = s.restart()  # same address, so the old URL is still ours
    try:
        assert httpx.get(url).status_code == 200
        assert post(s2, key, {"image": ("a.jpg", astronaut_bytes)}).status_code == 200
        assert "\tactive\t3\t" in s2.keys("list")
    finally:
        s2.stop()

