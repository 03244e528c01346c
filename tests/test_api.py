"""The HTTP API over a real socket: the official SDK, every error code, expiry, restarts."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import numpy as np
import pytest
from ailabtools import AILabClient
from ailabtools.errors import AILabApiError

from conftest import decode, encode, landscape
from server import ROUTE, Server


def post(server: Server, key: str | None, files: dict | None = None,
         data: dict | None = None, **kw: object) -> httpx.Response:
    headers = {"ailabapi-api-key": key} if key is not None else {}
    return httpx.post(server.url + ROUTE, headers=headers, files=files, data=data,
                      timeout=60, **kw)


def assert_error(resp: httpx.Response, status: int, code: str) -> dict:
    body = resp.json()
    assert resp.status_code == status, body
    assert body["error_code"] == status and body["error_code_str"] == code
    detail = body["error_detail"]
    assert detail["status_code"] == status and detail["code"] == code
    assert detail["code_message"] and detail["message"] and body["error_msg"] == detail["message"]
    assert body["request_id"] and body["log_id"] and "data" not in body
    return body


# ---- the official client -------------------------------------------------------------

@pytest.mark.parametrize("form", [None, "mask", "whiteBK", "crop"])
def test_official_sdk_every_return_form(server, key, astronaut_bytes, form):
    check_sdk_cut(server.url, key, astronaut_bytes, form)


def check_sdk_cut(base_url: str, key: str, photo: bytes, form: str | None,
                  timeout: float = 60) -> None:
    """The official SDK cuts the astronaut in `form` (None: the RGBA cut-out) at `base_url`;
    the result URL is ours and its pixels are those of that form. Shared with test_ray.py."""
    async def call() -> dict:
        client = AILabClient(key, base_url=base_url, timeout=timeout)
        params = {"image": photo} | ({"returnForm": form} if form else {})
        try:
            return await client.cutout.cutoutHumanBackgroundRemoval(params)
        finally:
            await client.aclose()

    result = asyncio.run(call())
    assert result["error_code"] == 0 and result["error_detail"]["status_code"] == 200
    url = result["data"]["image_url"]
    assert url.startswith(base_url + "/api/results/")
    got = httpx.get(url, timeout=10)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    img = decode(got.content)
    alpha_or_grey = np.asarray(img)
    if form is None:
        assert img.mode == "RGBA" and img.size == (512, 512)
        assert alpha_or_grey[80, 220, 3] == 255 and alpha_or_grey[10, 10, 3] == 0
    elif form == "mask":
        assert img.mode == "L" and img.size == (512, 512)
        assert alpha_or_grey[80, 220] == 255 and alpha_or_grey[10, 10] == 0
    elif form == "whiteBK":
        assert img.mode == "RGB" and img.size == (512, 512)
        assert tuple(alpha_or_grey[10, 10]) == (255, 255, 255)
    else:
        assert img.mode == "RGBA" and img.width < 512 and img.height < 512
        a = alpha_or_grey[..., 3]
        assert a[0].max() > 0 and a[-1].max() > 0 and a[:, 0].max() > 0 and a[:, -1].max() > 0


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

