"""Every error code docs/api.md documents is produced by a request here, and every code a
request here produces is documented (in-process: tests/support/inproc.py)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from humancut.api import ROUTE
from tests.support.checks import assert_error
from tests.support.images import encode
from tests.support.inproc import EllipseModel, RedModel, serving

pytestmark = pytest.mark.anyio
API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_codes() -> set[str]:
    """The codes of the error table (second column) and those named in the prose."""
    text = API_MD.read_text()
    table = text.split("| situation | code (HTTP status) |", 1)[1].split("\n\n", 1)[0]
    codes = {c for row in table.splitlines()[2:] for c in re.findall(r"\b[A-Z][A-Z_]{6,}\b",
                                                                      row.split("|")[2])}
    return codes | set(re.findall(r"`(ERROR_[A-Z_]+)`", text))


def multipart(boundary: str, image: bytes) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
            f"filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + image + \
        f"\r\n--{boundary}--\r\n".encode()


async def test_every_documented_code_comes_from_a_request(tmp_path, astronaut):
    jpeg = encode(astronaut.resize((96, 96)), "JPEG", quality=90)
    seen: set[str] = set()

    def expect(resp: httpx.Response, status: int, code: str) -> None:
        assert_error(resp, status, code)
        seen.add(code)

    limits = {"max_bytes": 20_000, "max_body_bytes": 60_000}  # the body: at least 20 kB + 64 kB
    async with serving(tmp_path / "a", **limits) as app:
        key = app.new_key()
        expect(await app.post(None, jpeg), 400, "MISSING_PARAMETERS")
        expect(await app.post("nope", jpeg), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
        locked = app.new_key()
        app.keys.set_status(locked.split("_")[1], "disabled")
        expect(await app.post(locked, jpeg), 403, "ERROR_USER_LOCKED")
        expect(await app.post(app.new_key(0), jpeg), 429, "ERROR_NOT_ENOUGH_CREDITS")
        expect(await app.post(key, jpeg, form="rainbow"), 400, "ERROR_INVALID_PARAMETER")
        # a body cut short inside the image part is malformed, not a missing field
        body = multipart("b0und", jpeg)[:200]
        expect(await app.client.post(ROUTE, content=body, headers={
            "ailabapi-api-key": key, "content-type": "multipart/form-data; boundary=b0und"}),
            400, "ERROR_INVALID_PARAMETER")
        expect(await app.post(key, b"\xff" * 30_000), 413, "FILE_SIZE_EXCEEDS_LIMIT")
        files = {f"f{i}": (f"{i}.jpg", b"\xff" * 19_000) for i in range(6)}  # each in limits
        expect(await app.client.post(ROUTE, files=files, headers={"ailabapi-api-key": key}),
               413, "ERROR_REQUEST_BODY_TOO_LARGE")
        expect(await app.post(key, encode(Image.new("RGB", (2000, 8)))), 413,
               "FILE_RESOLUTION_EXCEEDS_LIMITS")
        expect(await app.post(key, b"GIF89a" + bytes(100)), 415, "UNSUPPORTED_FILE_TYPES")
        expect(await app.post(key, jpeg[:1000]), 422, "FILE_DECODING_FAILURE")
        expect(await app.client.get("/nowhere"), 404, "ERROR_RESOURCE_NOT_FOUND")
        expect(await app.client.get(ROUTE), 405, "ERROR_METHOD_NOT_ALLOWED")
        once = app.new_key(rate_per_minute=1)
        assert (await app.post(once, jpeg)).status_code == 200
        expect(await app.post(once, jpeg), 429, "EXCEEDING_LIMITS")
    async with serving(tmp_path / "b", RedModel()) as app:  # nothing red: no person
        expect(await app.post(app.new_key(), jpeg), 422, "ERROR_NO_RECOGNITION_TARGET_DETECTED")
    async with serving(tmp_path / "c", EllipseModel(delay=0.5), request_timeout=0.05) as app:
        expect(await app.post(app.new_key(), jpeg), 500, "PROCESSING_FAILURE")
    async with serving(tmp_path / "d", EllipseModel(delay=0.3), workers=1,
                       queue_size=0) as app:
        key = app.new_key(max_in_flight=0)
        answers = await asyncio.gather(*(app.post(key, jpeg) for _ in range(3)))
        busy = [r for r in answers if r.status_code == 503]
        assert busy and busy[0].headers["retry-after"] == "2"
        expect(busy[0], 503, "AI_SERVICE_FLOW_RESTRICTION")
    async with serving(tmp_path / "e", upload_timeout=0.2) as app:
        async def slow() -> AsyncIterator[bytes]:
            yield multipart("s", jpeg)[:100]
            await asyncio.sleep(1)
            yield b""

        expect(await app.client.post(ROUTE, content=slow(), headers={
            "ailabapi-api-key": app.new_key(), "content-type": "multipart/form-data; boundary=s"}),
            408, "REQUEST_TIMEOUT")
    assert seen == documented_codes()
