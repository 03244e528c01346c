"""The HTTP API over a real socket: the official SDK, every error code, expiry, restarts."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from ailabtools import AILabClient
from ailabtools.errors import AILabApiError
from PIL import Image

from conftest import decode, encode, landscape
from server import ROUTE, Server
from test_imageops import png_header_only


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
    async def call() -> dict:
        client = AILabClient(key, base_url=server.url, timeout=60)
        params = {"image": astronaut_bytes} | ({"returnForm": form} if form else {})
        try:
            return await client.cutout.cutoutHumanBackgroundRemoval(params)
        finally:
            await client.aclose()

    result = asyncio.run(call())
    assert result["error_code"] == 0 and result["error_detail"]["status_code"] == 200
    url = result["data"]["image_url"]
    assert url.startswith(server.url + "/api/results/")
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

def test_key_errors(server, astronaut_bytes):
    files = {"image": ("a.jpg", astronaut_bytes, "image/jpeg")}
    assert_error(post(server, None, files), 400, "MISSING_PARAMETERS")
    assert_error(post(server, "nope", files), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
    revoked, disabled = server.create_key(), server.create_key()
    server.keys("revoke", revoked.split("_")[1])
    server.keys("disable", disabled.split("_")[1])
    assert_error(post(server, revoked, files), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
    assert_error(post(server, disabled, files), 403, "ERROR_USER_LOCKED")
    server.keys("enable", disabled.split("_")[1])
    assert post(server, disabled, files).status_code == 200


def test_credits_are_spent_on_success_only(server, astronaut_bytes):
    key = server.create_key(1)
    key_id = key.split("_")[1]
    assert_error(post(server, key, {"image": ("x.gif", b"GIF89a....", "image/gif")}),
                 415, "UNSUPPORTED_FILE_TYPES")  # a failure costs nothing
    assert post(server, key, {"image": ("a.jpg", astronaut_bytes)}).status_code == 200
    assert_error(post(server, key, {"image": ("a.jpg", astronaut_bytes)}),
                 429, "ERROR_NOT_ENOUGH_CREDITS")
    assert f"{key_id}\tactive\t0\t" in server.keys("list")


def test_request_errors(server, key, astronaut, astronaut_bytes):
    def send(content: bytes, name: str = "f", form: str | None = None) -> httpx.Response:
        return post(server, key, {"image": (name, content)},
                    {"return_form": form} if form is not None else None)

    assert_error(post(server, key, data={"return_form": "mask"}), 400, "MISSING_PARAMETERS")
    assert_error(send(astronaut_bytes, form="rainbow"), 400, "ERROR_INVALID_PARAMETER")
    rng = np.random.default_rng(1)
    noise = Image.fromarray(rng.integers(0, 255, (1100, 1100, 3), dtype=np.uint8))
    big = encode(noise, "PNG")
    assert len(big) > 3 * 1024 * 1024
    assert_error(send(big), 413, "FILE_SIZE_EXCEEDS_LIMIT")
    assert_error(send(encode(Image.new("RGB", (2000, 10)))), 413,
                 "FILE_RESOLUTION_EXCEEDS_LIMITS")
    small = astronaut.resize((64, 64))
    assert_error(send(encode(small, "GIF")), 415, "UNSUPPORTED_FILE_TYPES")
    assert_error(send(encode(small, "TIFF")), 415, "UNSUPPORTED_FILE_TYPES")
    sixteen = encode(Image.fromarray(np.full((40, 40), 30000, np.uint16)))
    assert_error(send(sixteen), 415, "UNSUPPORTED_FILE_TYPES")
    assert_error(send(astronaut_bytes[:20000]), 422, "FILE_DECODING_FAILURE")
    assert_error(send(b"", name="empty.jpg"), 422, "FILE_DECODING_FAILURE")
    assert_error(send(b"", name=""), 400, "MISSING_PARAMETERS")  # a form with no file chosen
    assert_error(send(rng.bytes(4000)), 415, "UNSUPPORTED_FILE_TYPES")
    assert_error(send(png_header_only(50000, 50000)), 413, "FILE_RESOLUTION_EXCEEDS_LIMITS")
    assert_error(send(encode(landscape())), 422, "ERROR_NO_RECOGNITION_TARGET_DETECTED")


def test_oversize_body_and_framework_errors_use_the_envelope(server, key):
    body = b"x" * (9 * 1024 * 1024)
    resp = httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key,
                                                   "content-type": "multipart/form-data; b=1"},
                      content=body, timeout=30)
    assert_error(resp, 413, "ERROR_REQUEST_BODY_TOO_LARGE")
    assert_error(httpx.get(server.url + "/nowhere"), 404, "ERROR_RESOURCE_NOT_FOUND")
    assert_error(httpx.get(server.url + ROUTE), 405, "ERROR_METHOD_NOT_ALLOWED")
    assert_error(httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key},
                            content=b"{}", timeout=10), 400, "MISSING_PARAMETERS")
    assert_error(httpx.post(server.url + ROUTE, headers={
        "ailabapi-api-key": key, "content-type": "multipart/form-data"}, content=b"--x--"),
        400, "ERROR_INVALID_PARAMETER")


def test_health_docs_and_forwarded_urls(server, key, astronaut_bytes):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(server.url + "/readyz").status_code == 200
    assert httpx.get(server.url + "/docs").status_code == 200
    spec = httpx.get(server.url + "/openapi.json").json()
    assert ROUTE in spec["paths"]
    samples = Path(__file__).parents[1] / "src" / "humancut" / "web" / "static" / "samples"
    for sample in samples.iterdir():  # the sample programs are shown at /docs as shipped
        assert sample.read_text().strip() in spec["info"]["description"], sample.name
    resp = httpx.post(
        server.url + ROUTE, files={"image": ("a.jpg", astronaut_bytes)}, timeout=60,
        headers={"ailabapi-api-key": key, "x-forwarded-proto": "https",
                 "x-forwarded-host": "cut.example.com"})
    assert resp.json()["data"]["image_url"].startswith("https://cut.example.com/api/results/")
    assert resp.headers["x-request-id"] == resp.json()["request_id"]


def test_result_urls_are_unguessable(server, key, astronaut_bytes):
    url = post(server, key, {"image": ("a.jpg", astronaut_bytes)}).json()["data"]["image_url"]
    token = url.rsplit("/", 1)[1].split(".")[0]
    assert len(token) == 22  # 128 random bits
    neighbour = ("B" if token[0] == "A" else "A") + token[1:]
    for probe in ("/api/results/", "/api/results/..%2Fkeys.db", "/api/results/../keys.db",
                  "/api/results/%2Fetc%2Fpasswd", "/api/results/" + neighbour + ".png",
                  "/api/results/" + token + ".jpg"):
        assert httpx.get(server.url + probe).status_code == 404, probe


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


def test_uploads_are_never_written_to_disk(server, key, astronaut_bytes):
    before = {p for p in server.data_dir.rglob("*") if p.is_file()}
    post(server, key, {"image": ("a.jpg", astronaut_bytes)}, {"return_form": "mask"})
    new = {p for p in server.data_dir.rglob("*") if p.is_file()} - before
    assert all(p.suffix in (".png", ".db-wal", ".db-shm") for p in new), new
    assert not any(p.read_bytes() == astronaut_bytes for p in new)
