"""Webhooks of video tasks (api/webhook.py): a receiver on loopback, allowed by fetch_allow,
gets the query result signed with the webhook secret, after a failed first try; private
and loopback addresses are refused at submission unless allowed; the signature and the
retries are those documented."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from humancut.api.webhook import SIGNATURE, sign
from tests.api.test_video_api import VIDEO, submit
from tests.support.checks import assert_error
from tests.support.inproc import serving
from tests.support.videoclips import broken_midway, clip

pytestmark = pytest.mark.anyio
SECRET = "webhook-test-secret"


class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers the statuses given
    (then 200)."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(self.calls) >= count, f"{len(self.calls)} calls, wanted {count}"

    def close(self) -> None:
        self.http.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver((500,))  # the first try fails: the second must come
    yield r
    r.close()


async def test_a_signed_webhook_reaches_an_allowed_loopback_receiver(tmp_path, receiver):
    async with serving(tmp_path, webhook_secret=SECRET, fetch_allow="127.0.0.1",
                       **VIDEO) as app:
        key = app.new_key(credits=3)
        resp = await submit(app, key, clip(), callback_url=receiver.url)
        assert resp.status_code == 200, resp.json()
        receiver.wait(2)
        headers, body = receiver.calls[-1]
        assert headers["content-type"] == "application/json"
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers[SIGNATURE.lower()] == f"sha256={expected}" == sign(body, SECRET)
        assert receiver.calls[0][1] == body  # the retry sends the same signed body
        sent = json.loads(body)
        assert sent["task_id"] == resp.json()["task_id"] and sent["task_status"] == 2
        assert sent["task_type"] == "async" and sent["data"]["task_status"] == 2
        assert sent["data"]["video_url"].startswith("http://testserver/api/results/")
        assert (await app.client.get(sent["data"]["video_url"])).status_code == 200


async def test_a_failed_task_is_posted_with_its_error(tmp_path):
    receiver = Receiver()
    try:
        async with serving(tmp_path, webhook_secret=SECRET, fetch_allow="127.0.0.1",
                           **VIDEO) as app:
            key = app.new_key(credits=3)
            await submit(app, key, broken_midway(), callback_url=receiver.url)
            receiver.wait(1)
            sent = json.loads(receiver.calls[0][1])
            assert sent["task_status"] == 3 and sent["error_code"] == 422
            assert sent["error_detail"]["code"] == "FILE_DECODING_FAILURE"
            assert len(receiver.calls) == 1  # answered 200 at once: no retry
    finally:
        receiver.close()


async def test_private_addresses_are_refused_at_submission(tmp_path, receiver):
    async with serving(tmp_path, webhook_secret=SECRET, **VIDEO) as app:
        app.app.state.video.stop()
        key = app.new_key(credits=3)
        for url in (receiver.url, "http://192.168.1.10/hook", "http://[fd00::1]/h",
                    "http://0x7f.1/hook"):
            body = assert_error(await submit(app, key, clip(), callback_url=url), 400,
                                "ERROR_INVALID_PARAMETER")
            assert "callback_url" in body["error_msg"]
        assert app.credits(key) == 3
    async with serving(tmp_path / "nosecret", fetch_allow="127.0.0.1", **VIDEO) as app:
        app.app.state.video.stop()
        body = assert_error(await submit(app, app.new_key(), clip(), callback_url=receiver.url),
                            400, "ERROR_INVALID_PARAMETER")
        assert "webhook_secret" in body["error_msg"]
    assert receiver.calls == []
