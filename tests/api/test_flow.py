"""The request flow, limits, envelopes and the error table, in-process (tests/support/inproc.py):
the real app, stores and ThreadRunner, the model stood in for. Real sockets and the real
model are in test_api.py and test_reliability.py."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from humancut import Settings
from humancut.api import ROUTE
from humancut.api.service import Call
from humancut.errors import HumancutError
from humancut.job import Job
from tests.support.checks import assert_error
from tests.support.images import decode, encode, png_header_only
from tests.support.inproc import EllipseModel, serving

pytestmark = pytest.mark.anyio


async def test_success_envelope_result_and_its_url(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        key = app.new_key()
        resp = await app.post(key, jpeg, form="mask")
        body = resp.json()
        assert resp.status_code == 200 and body["error_code"] == 0
        assert body["error_detail"] == {"status_code": 200, "code": "", "code_message": "",
                                        "message": ""}
        assert resp.headers["x-request-id"] == body["request_id"] and body["log_id"]
        url = body["data"]["image_url"]
        assert url.startswith("http://testserver/api/results/") and url.endswith(".png")
        got = await app.client.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
        assert int(got.headers["content-length"]) == len(got.content)
        assert 0 < int(got.headers["cache-control"].split("max-age=")[1]) <= 24 * 3600
        mask = np.asarray(decode(got.content))
        assert mask.shape == (128, 128) and mask[64, 64] == 255 and mask[0, 0] == 0


async def test_key_errors(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        assert_error(await app.post(None, jpeg), 400, "MISSING_PARAMETERS")
        assert_error(await app.post("nope", jpeg), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
        revoked, disabled = app.new_key(), app.new_key()
        app.keys.set_status(revoked.split("_")[1], "revoked")
        app.keys.set_status(disabled.split("_")[1], "disabled")
        assert_error(await app.post(revoked, jpeg), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
        assert_error(await app.post(disabled, jpeg), 403, "ERROR_USER_LOCKED")
        app.keys.set_status(disabled.split("_")[1], "active")
        assert (await app.post(disabled, jpeg)).status_code == 200
        assert app.model.calls == 1  # refused calls never reach the model


async def test_credits_are_spent_on_success_only(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        key = app.new_key(1)
        assert_error(await app.post(key, b"GIF89a...."), 415, "UNSUPPORTED_FILE_TYPES")
        assert_error(await app.post(key, jpeg, form="rainbow"), 400, "ERROR_INVALID_PARAMETER")
        assert app.credits(key) == 1
        assert (await app.post(key, jpeg)).status_code == 200
        assert_error(await app.post(key, jpeg), 429, "ERROR_NOT_ENOUGH_CREDITS")
        assert app.credits(key) == 0


async def test_the_flow_needs_no_http_request(tmp_path, jpeg):
    """CutService.handle runs on a Call (the key, a log dict, the base URL): no Starlette
    request, no route. It fills the log, links the result under the given base URL and
    charges one credit; a failed call charges nothing and does not log success."""
    async with serving(tmp_path) as app:
        service = app.app.state.service
        key = app.new_key(1)

        async def read() -> Job:
            return Job(jpeg, "mask")

        log: dict[str, object] = {}
        done = await service.handle(Call(key, "X-Key", log, "L1", "https://cut.example"), read)
        assert done.url.startswith("https://cut.example/api/results/")
        assert (await app.client.get(done.url.replace("https://cut.example", ""))).content \
            == done.cut.data
        assert log["key_id"] == done.key.id and log["outcome"] == "ok"
        assert log["in_bytes"] == len(jpeg) and log["out_size"] == "128x128"
        assert app.credits(key) == 0
        log = {}
        with pytest.raises(HumancutError) as err:
            await service.handle(Call(key, "X-Key", log), read, store=False)
        assert err.value.code == "no_credits"
        assert log == {"key_id": done.key.id, "in_bytes": len(jpeg)}  # no outcome: app.py adds it
        with pytest.raises(HumancutError) as err:
            await service.handle(Call(None, "X-Key", {}), read)
        assert err.value.code == "missing_parameter" and "X-Key" in err.value.message


async def test_request_errors(tmp_path, astronaut, jpeg):
    async with serving(tmp_path) as app:
        key = app.new_key()
        assert_error(await app.post(key, None, form="mask"), 400, "MISSING_PARAMETERS")
        rng = np.random.default_rng(1)
        big = encode(Image.fromarray(rng.integers(0, 255, (1100, 1100, 3), dtype=np.uint8)))
        assert len(big) > 3 * 1024 * 1024
        small = astronaut.resize((64, 64))
        sixteen = encode(Image.fromarray(np.full((40, 40), 30000, np.uint16)))
        for image, status, code in [
            (big, 413, "FILE_SIZE_EXCEEDS_LIMIT"),
            (encode(Image.new("RGB", (2000, 10))), 413, "FILE_RESOLUTION_EXCEEDS_LIMITS"),
            (png_header_only(50000, 50000), 413, "FILE_RESOLUTION_EXCEEDS_LIMITS"),
            (encode(small, "GIF"), 415, "UNSUPPORTED_FILE_TYPES"),
            (encode(small, "TIFF"), 415, "UNSUPPORTED_FILE_TYPES"),
            (sixteen, 415, "UNSUPPORTED_FILE_TYPES"),
            (rng.bytes(4000), 415, "UNSUPPORTED_FILE_TYPES"),
            (jpeg[:1000], 422, "FILE_DECODING_FAILURE"),
            (b"", 422, "FILE_DECODING_FAILURE"),
        ]:
            body = assert_error(await app.post(key, image), status, code)
            assert body["error_detail"]["message"], code
        assert_error(await app.post(key, b"", name=""), 400, "MISSING_PARAMETERS")  # no file


async def test_oversize_body_and_framework_errors_use_the_envelope(tmp_path):
    async with serving(tmp_path) as app:
        key = app.new_key()
        h = {"ailabapi-api-key": key}
        resp = await app.client.post(ROUTE, content=b"x" * (9 * 1024 * 1024), headers=h | {
            "content-type": "multipart/form-data; b=1"})
        assert_error(resp, 413, "ERROR_REQUEST_BODY_TOO_LARGE")
        assert_error(await app.client.get("/nowhere"), 404, "ERROR_RESOURCE_NOT_FOUND")
        assert_error(await app.client.get(ROUTE), 405, "ERROR_METHOD_NOT_ALLOWED")
        assert_error(await app.client.post(ROUTE, headers=h, content=b"{}"), 400,
                     "MISSING_PARAMETERS")
        assert_error(await app.client.post(ROUTE, content=b"--x--", headers=h | {
            "content-type": "multipart/form-data"}), 400, "ERROR_INVALID_PARAMETER")


async def test_health_docs_and_forwarded_urls(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        c = app.client
        assert (await c.get("/healthz")).json() == {"status": "ok"}
        assert (await c.get("/readyz")).json() == {"status": "ready"}
        assert (await c.get("/docs")).status_code == 200
        spec = (await c.get("/openapi.json")).json()
        assert ROUTE in spec["paths"]
        key = app.new_key()
        resp = await app.post(key, jpeg, headers={"x-forwarded-proto": "https",
                                                  "x-forwarded-host": "cut.example.com"})
        assert resp.json()["data"]["image_url"].startswith("https://cut.example.com/api/results/")
        bad = await app.post(key, jpeg, headers={"x-forwarded-proto": "gopher",
                                                 "x-forwarded-host": "evil.example/<x>"})
        assert bad.json()["data"]["image_url"].startswith("http://testserver/api/results/")
    async with serving(tmp_path, public_base_url="https://cdn.example/") as app:
        resp = await app.post(app.new_key(), jpeg)
        assert resp.json()["data"]["image_url"].startswith("https://cdn.example/api/results/")


async def test_result_urls_are_unguessable_and_deleted_ones_are_gone(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        url = (await app.post(app.new_key(), jpeg)).json()["data"]["image_url"]
        name = url.rsplit("/", 1)[1]
        token = name.split(".")[0]
        assert len(token) == 22  # 128 random bits
        neighbour = ("B" if token[0] == "A" else "A") + token[1:]
        for probe in ("/api/results/", "/api/results/..%2Fkeys.db", "/api/results/../keys.db",
                      "/api/results/%2Fetc%2Fpasswd", "/api/results/" + neighbour + ".png",
                      "/api/results/" + token + ".jpg", "/api/results/index.db"):
            assert (await app.client.get(probe)).status_code == 404, probe
        (tmp_path / "data" / "results" / name).unlink()  # behind the server's back
        assert_error(await app.client.get(url), 404, "ERROR_RESOURCE_NOT_FOUND")


async def test_rate_limit_per_key(tmp_path):
    async with serving(tmp_path) as app:
        key = app.new_key(rate_per_minute=3)
        for remaining in ("2", "1", "0"):
            resp = await app.post(key, b"GIF89a" + b"\0" * 20)
            assert resp.status_code == 415 and resp.headers["x-ratelimit-remaining"] == remaining
            assert resp.headers["x-ratelimit-limit"] == "3"
        resp = await app.post(key, b"GIF89a")
        body = assert_error(resp, 429, "EXCEEDING_LIMITS")
        assert "3 requests a minute" in body["error_msg"]
        assert 0 < int(resp.headers["retry-after"]) <= 60
        assert int(resp.headers["x-ratelimit-reset"]) <= 60
        assert (await app.post(app.new_key(), b"GIF89a")).status_code == 415  # others free


async def test_in_flight_limit_per_key(tmp_path, jpeg):
    async with serving(tmp_path, EllipseModel(delay=0.3)) as app:
        key = app.new_key(max_in_flight=1, rate_per_minute=0)
        responses = await asyncio.gather(*(app.post(key, jpeg) for _ in range(4)))
        codes = Counter(r.json()["error_code_str"] or "ok" for r in responses)
        assert codes == {"ok": 1, "EXCEEDING_LIMITS": 3}
        refused = next(r for r in responses if r.status_code == 429)
        assert "1 request in progress at once" in refused.json()["error_msg"]
        assert refused.headers["retry-after"] == "1"
        assert (await app.post(key, jpeg)).status_code == 200  # the slot was given back


async def test_credits_are_exact_under_concurrency(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        key = app.new_key(10, max_in_flight=0, rate_per_minute=0)
        responses = await asyncio.gather(*(app.post(key, jpeg, form="mask") for _ in range(100)))
        codes = Counter(r.json()["error_code_str"] or "ok" for r in responses)
        assert codes == {"ok": 10, "ERROR_NOT_ENOUGH_CREDITS": 90}
        assert app.credits(key) == 0 and app.model.calls == 10


async def test_back_pressure_answers_503_at_once(tmp_path, jpeg):
    async with serving(tmp_path, EllipseModel(delay=0.3), workers=1, queue_size=1) as app:
        key = app.new_key(5, max_in_flight=0, rate_per_minute=0)
        responses = await asyncio.gather(*(app.post(key, jpeg) for _ in range(5)))
        busy = [r for r in responses if r.status_code == 503]
        assert len(busy) == 3 and all(
            r.json()["error_code_str"] == "AI_SERVICE_FLOW_RESTRICTION"
            and r.headers["retry-after"] == "2" for r in busy)
        assert sum(r.status_code == 200 for r in responses) == 2
        assert app.credits(key) == 3  # the refused ones were refunded


async def test_processing_timeout_is_refunded(tmp_path, jpeg):
    async with serving(tmp_path, EllipseModel(delay=0.5), request_timeout=0.05) as app:
        key = app.new_key(1)
        body = assert_error(await app.post(key, jpeg), 500, "PROCESSING_FAILURE")
        assert "longer than" in body["error_msg"] and app.credits(key) == 1


async def test_unwritable_results_fail_cleanly_refund_and_recover(tmp_path, jpeg, caplog):
    async with serving(tmp_path) as app:
        key = app.new_key(5)
        results = tmp_path / "data" / "results"
        shutil.move(results, tmp_path / "moved")
        results.write_text("a file where the results folder was: writes fail")
        with caplog.at_level(logging.ERROR, logger="humancut.api"):
            body = assert_error(await app.post(key, jpeg), 500, "PROCESSING_FAILURE")
        assert "could not be stored" in body["error_msg"]
        assert "store_failed" in caplog.text and app.credits(key) == 5
        results.unlink()
        shutil.move(tmp_path / "moved", results)
        assert (await app.post(key, jpeg)).status_code == 200 and app.credits(key) == 4


async def test_no_secrets_or_image_bytes_in_logs(tmp_path, jpeg, caplog):
    async with serving(tmp_path) as app:
        key = app.new_key()
        with caplog.at_level(logging.INFO, logger="humancut.api"):
            url = (await app.post(key, jpeg)).json()["data"]["image_url"]
            await app.client.get(url)
            await app.post(key + "x", jpeg)
        assert key not in caplog.text and key.split("_", 2)[2][:12] not in caplog.text
        assert url.rsplit("/", 1)[1] not in caplog.text and "/api/results/<token>" in caplog.text
        assert key.split("_")[1] in caplog.text  # the key id is logged
        assert '"outcome": "unknown_key"' in caplog.text


async def test_uploads_are_never_written_to_disk(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        data = tmp_path / "data"
        before = {p for p in data.rglob("*") if p.is_file()}
        await app.post(app.new_key(), jpeg, form="mask")
        new = {p for p in data.rglob("*") if p.is_file()} - before
        assert new and all(p.suffix in (".png", ".db-wal", ".db-shm") for p in new), new
        assert not any(p.read_bytes() == jpeg for p in new)


async def test_security_headers_and_cors(tmp_path):
    async with serving(tmp_path) as app:
        page = await app.client.get("/")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        pre = await app.client.options(ROUTE, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in pre.headers
        assert Settings().host == "127.0.0.1"  # the server binds loopback unless told
    async with serving(tmp_path, cors_origins="https://app.example") as app:
        pre = await app.client.options(ROUTE, headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "ailabapi-api-key"})
        assert pre.headers["access-control-allow-origin"] == "https://app.example"


async def test_trial_key_mode(tmp_path, jpeg):
    async with serving(tmp_path) as app:
        assert_error(await app.client.get("/api/trial"), 404, "ERROR_RESOURCE_NOT_FOUND")
    async with serving(tmp_path, trial_key=True, trial_rate_per_minute=2) as app:
        trial = (await app.client.get("/api/trial")).json()
        assert trial["enabled"] and trial["key"].startswith("hc_")
        assert trial["rate_per_minute"] == 2
        assert (await app.post(trial["key"], jpeg)).status_code == 200
        assert (await app.post(trial["key"], jpeg)).status_code == 200
        assert_error(await app.post(trial["key"], jpeg), 429, "EXCEEDING_LIMITS")
        first = trial["key"]
    async with serving(tmp_path, trial_key=True) as app:  # a restart makes a new one
        assert (await app.client.get("/api/trial")).json()["key"] != first
        assert_error(await app.post(first, jpeg), 401, "ERROR_APPLICATIONS_NOT_EXISTS")
