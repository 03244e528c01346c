"""The video routes in-process (tests/support/inproc.py) with the real video pipeline and
model (humancut.video.remove_video on RVM) on small clips made with PyAV: a task from
submission to its decoded WebM, the query's shapes, credits per started 10 s, every row of
the video error table with nothing charged and nothing left on disk, a clip that fails
mid-way, usage and /metrics. Real sockets, the SDK and kill -9: tests/e2e/test_video_server.py."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from humancut.api.video import QUERY_ROUTE, ROUTE, credits_for
from humancut.store.keys import utc_day
from tests.support.checks import assert_error
from tests.support.images import encode
from tests.support.inproc import App, serving
from tests.support.videoclips import broken_midway, clip, face, webm_alpha_frames

pytestmark = pytest.mark.anyio
VIDEO = {"video_size": 128}  # the model's side for these small clips


async def submit(app: App, key: str | None, data: bytes | None, **fields: str) -> Any:
    headers = {"ailabapi-api-key": key} if key is not None else {}
    files = {"video": ("clip.mp4", data)} if data is not None else None
    assert app.client is not None
    return await app.client.post(ROUTE, headers=headers, files=files,
                                 data=fields or ({"x": "y"} if files is None else None))


async def query(app: App, key: str, task_id: str) -> Any:
    assert app.client is not None
    return await app.client.get(QUERY_ROUTE, params={"task_id": task_id},
                                headers={"ailabapi-api-key": key})


async def wait_end(app: App, key: str, task_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        resp = await query(app, key, task_id)
        body = resp.json()
        seen.append(body["task_status"])
        if body["task_status"] in (2, 3):
            return resp, seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"task {task_id} did not end: {seen[-5:]}")


async def settled(app: App, key: str, timeout: float = 10) -> Any:
    """The key's usage today once a task's end is in it: the worker records it after the
    task's answer changes, so a poll may see the end a moment before the usage row."""
    deadline = time.monotonic() + timeout
    while True:
        rows = app.keys.usage(utc_day(), utc_day(), key.split("_")[1])
        if rows and (rows[0].video_tasks or any(rows[0].failures)):
            return rows[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no usage recorded for the task: {rows}")
        await asyncio.sleep(0.05)


def leftovers(app: App) -> list[str]:
    data = app.settings.data_dir
    return [p.name for d in ("video-uploads", "video-work") for p in (data / d).iterdir()]


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


async def test_a_task_from_submission_to_a_transparent_webm(tmp_path):
    async with serving(tmp_path, **VIDEO) as app:
        key = app.new_key(credits=5)
        resp = await submit(app, key, clip())
        body = resp.json()
        assert resp.status_code == 200 and body["error_code"] == 0, body
        assert body["task_type"] == "async" and body["task_status"] == 0
        task_id = body["task_id"]
        assert len(task_id) == 32 and body["request_id"] and body["log_id"]
        assert app.credits(key) == 4  # a 2 s clip: one credit, taken at acceptance
        done, seen = await wait_end(app, key, task_id)
        usage = await settled(app, key)  # the worker's bookkeeping is done
        body = done.json()
        assert done.status_code == 200 and body["error_code"] == 0 and seen[-1] == 2
        assert body["task_id"] == task_id and body["task_type"] == "async"
        data = body["data"]
        assert data["task_status"] == 2 and data["progress"] == 100
        assert (data["frames"], data["width"], data["height"]) == (20, 128, 96)
        assert data["duration"] == pytest.approx(2.0) and data["fps"] == pytest.approx(10)
        assert data["form"] == "webm" and data["video_url"].endswith(".webm")
        got = await app.client.get(data["video_url"])
        assert got.status_code == 200 and got.headers["content-type"] == "video/webm"
        frames = webm_alpha_frames(got.content)
        assert len(frames) == 20
        alpha = frames[10][..., 3]
        assert alpha[face(index=10)] == 255
        assert alpha[3, 3] == 0 and alpha[3, 124] == 0  # the wall above
        assert app.credits(key) == 4 and leftovers(app) == []
        assert (usage.video_tasks, usage.video_seconds, usage.credits) == (1, 2.0, 1)
        text = (await app.client.get("/metrics")).text
        assert metric(text, 'humancut_video_tasks_total{outcome="ok"}') == 1
        assert metric(text, "humancut_video_frames_total") == 20
        assert metric(text, "humancut_video_seconds_total") == 2
        assert metric(text, "humancut_video_queue_depth") == 0
        assert metric(text, 'humancut_video_task_duration_seconds_count{outcome="ok"}') == 1


async def test_the_query_sees_only_the_own_keys_tasks(tmp_path):
    async with serving(tmp_path, **VIDEO) as app:
        app.app.state.video.stop()  # nothing processed: the task stays queued
        key, other = app.new_key(credits=3), app.new_key(credits=3)
        task_id = (await submit(app, key, clip())).json()["task_id"]
        queued = (await query(app, key, task_id)).json()
        assert queued["task_status"] == 0 and queued["data"] == {"task_status": 0,
                                                                 "progress": 0}
        for who, asked in ((other, task_id), (key, "0" * 32), (key, "../etc")):
            assert_task_not_found(await query(app, who, asked))
        assert_error(await app.client.get(QUERY_ROUTE, headers={"ailabapi-api-key": key}),
                     400, "MISSING_PARAMETERS")
        assert_error(await query(app, "nope", task_id), 401, "ERROR_APPLICATIONS_NOT_EXISTS")


def assert_task_not_found(resp: Any) -> None:
    body = resp.json()
    assert resp.status_code == 404 and body["error_detail"]["code"] == "ERROR_TASK_NOT_FOUND"
    assert body["error_code"] == 404 and body["error_msg"]


def test_one_credit_per_started_ten_seconds():
    assert [credits_for(s) for s in (0, 0.5, 10, 10.01, 12, 20, 60)] == [1, 1, 1, 2, 2, 2, 6]


async def test_a_twelve_second_clip_costs_two_credits(tmp_path):
    async with serving(tmp_path, **VIDEO) as app:
        app.app.state.video.stop()
        long = clip(64, 48, seconds=12, fps=2)
        one = app.new_key(credits=1)
        assert_error(await submit(app, one, long), 429, "ERROR_NOT_ENOUGH_CREDITS")
        assert app.credits(one) == 1 and leftovers(app) == []
        key = app.new_key(credits=3)
        assert (await submit(app, key, long)).status_code == 200
        assert app.credits(key) == 1


async def test_every_row_of_the_video_error_table(tmp_path):
    limits = {"video_max_bytes": 200_000, "video_max_seconds": 3.0, "video_max_side": 160,
              "webhook_secret": "s", **VIDEO}
    async with serving(tmp_path, **limits) as app:
        app.app.state.video.stop()
        key = app.new_key(credits=10)
        good = clip()

        async def refused(status: int, code: str, data: bytes | None, who: str | None = key,
                          **fields: str) -> None:
            before = app.credits(key)
            assert_error(await submit(app, who, data, **fields), status, code)
            assert app.credits(key) == before and leftovers(app) == []
            assert app.backends.tasks.open_tasks() == 0

        await refused(400, "MISSING_PARAMETERS", None)
        await refused(400, "MISSING_PARAMETERS", good, who=None)
        await refused(401, "ERROR_APPLICATIONS_NOT_EXISTS", good, who="nope")
        await refused(400, "ERROR_INVALID_PARAMETER", good, return_form="gif")
        await refused(400, "ERROR_INVALID_PARAMETER", good, bg_color="red")
        await refused(400, "ERROR_INVALID_PARAMETER", good, return_form="mask",
                      bg_color="ff0000")
        for url in ("ftp://example.com/x", "http://10.1.2.3/hook", "http://127.0.0.1:9/hook",
                    "http://[::1]/hook", "http://169.254.169.254/latest"):
            await refused(400, "ERROR_INVALID_PARAMETER", good, callback_url=url)
        await refused(413, "FILE_SIZE_EXCEEDS_LIMIT", bytes(200_001))
        # the clip is written to disk as it streams in: every refusal on the way removes it
        headers = {"ailabapi-api-key": key}
        assert_error(await app.client.post(ROUTE, headers=headers, content=good), 400,
                     "MISSING_PARAMETERS")  # not multipart
        twice = [("video", ("a.mp4", good)), ("video", ("b.mp4", good))]
        assert_error(await app.client.post(ROUTE, headers=headers, files=twice), 400,
                     "ERROR_INVALID_PARAMETER")
        big = {"content-length": "900000", "content-type": "multipart/form-data; boundary=x"}
        assert_error(await app.client.post(ROUTE, headers=headers | big, content=b"--x"),
                     413, "ERROR_REQUEST_BODY_TOO_LARGE")
        assert app.credits(key) == 10 and leftovers(app) == []
        await refused(413, "FILE_RESOLUTION_EXCEEDS_LIMITS", clip(192, 96))
        await refused(413, "VIDEO_DURATION_EXCEEDS_LIMIT", clip(64, 48, seconds=4, fps=5))
        await refused(415, "UNSUPPORTED_FILE_TYPES", encode(Image.new("RGB", (64, 64))))
        await refused(415, "UNSUPPORTED_FILE_TYPES", b"just some text, not a video" * 10)
        await refused(422, "FILE_DECODING_FAILURE", good[: len(good) // 2])
        broke = app.new_key(credits=0)
        assert_error(await submit(app, broke, good), 429, "ERROR_NOT_ENOUGH_CREDITS")
        assert app.credits(broke) == 0 and leftovers(app) == []
        locked = app.new_key(credits=5)
        app.keys.set_status(locked.split("_")[1], "disabled")
        await refused(403, "ERROR_USER_LOCKED", good, who=locked)
        usage = app.keys.usage(utc_day(), utc_day(), key.split("_")[1])[0]
        assert usage.failures["video:invalid_parameter"] == 9 and usage.credits == 0


async def test_full_queues_answer_busy_with_retry_after(tmp_path):
    async with serving(tmp_path, video_queue_per_key=1, video_queue_size=2, **VIDEO) as app:
        app.app.state.video.stop()
        a, b, c = (app.new_key(credits=5) for _ in range(3))
        assert (await submit(app, a, clip())).status_code == 200
        resp = await submit(app, a, clip())
        assert_error(resp, 429, "EXCEEDING_LIMITS")
        assert resp.headers["retry-after"] == "10" and app.credits(a) == 4
        assert (await submit(app, b, clip())).status_code == 200
        resp = await submit(app, c, clip())
        assert_error(resp, 503, "AI_SERVICE_FLOW_RESTRICTION")
        assert resp.headers["retry-after"] == "10" and app.credits(c) == 5
        assert leftovers(app) and len(leftovers(app)) == 2  # the two queued uploads


async def test_a_clip_failing_mid_way_ends_failed_with_its_credits_back(tmp_path):
    async with serving(tmp_path, **VIDEO) as app:
        key = app.new_key(credits=2)
        resp = await submit(app, key, broken_midway())
        assert resp.status_code == 200, resp.json()  # its header and first frame are sound
        assert app.credits(key) == 1
        ended, _ = await wait_end(app, key, resp.json()["task_id"])
        usage = await settled(app, key)  # the worker's bookkeeping is done
        body = ended.json()
        assert ended.status_code == 422 and body["task_status"] == 3
        assert body["data"]["task_status"] == 3 and body["task_type"] == "async"
        assert body["error_detail"]["code"] == "FILE_DECODING_FAILURE"
        assert "frame 11" in body["error_msg"]
        assert app.credits(key) == 2 and leftovers(app) == []
        results = app.settings.data_dir / "results"
        assert not [p for p in results.iterdir() if p.suffix in (".webm", ".part")]
        assert usage.failures == {"video:undecodable": 1} and usage.video_tasks == 0
        text = (await app.client.get("/metrics")).text
        assert metric(text, 'humancut_video_tasks_total{outcome="failed"}') == 1


@pytest.mark.parametrize("form,colour", [("mask", ""), ("whiteBK", "00ff00")])
async def test_other_forms(tmp_path, form, colour):
    async with serving(tmp_path, **VIDEO) as app:
        key = app.new_key()
        fields = {"return_form": form} | ({"bg_color": colour} if colour else {})
        task_id = (await submit(app, key, clip(), **fields)).json()["task_id"]
        done, _ = await wait_end(app, key, task_id)
        data = done.json()["data"]
        assert data["form"] == form and data["video_url"].endswith(".mp4")
        got = await app.client.get(data["video_url"])
        assert got.headers["content-type"] == "video/mp4"
        with av.open(io.BytesIO(got.content)) as c:
            frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
        wall = frame[3, 3].astype(int)
        expected = [0, 0, 0] if form == "mask" else [0, 255, 0]
        assert np.abs(wall - expected).max() < 40, wall


async def test_a_task_whose_servers_keep_dying_fails_with_its_credits_back(tmp_path):
    async with serving(tmp_path, video_attempts=1, **VIDEO) as app:
        worker = app.app.state.video
        worker.stop()  # the live worker waits while a "dead server" takes the task
        key = app.new_key(credits=3)
        task_id = (await submit(app, key, clip())).json()["task_id"]
        assert app.backends.tasks.claim("dead-server", lease=0.1, attempts=1).id == task_id
        await asyncio.sleep(0.3)  # its lease runs out: no heartbeat
        worker._stop.clear()
        worker._threads.clear()
        worker.start()  # a start: this server's worker finds the task started once already
        ended, _ = await wait_end(app, key, task_id, timeout=30)
        usage = await settled(app, key)  # the worker's bookkeeping is done
        body = ended.json()
        assert ended.status_code == 500 and body["task_status"] == 3
        assert body["error_detail"]["code"] == "PROCESSING_FAILURE"
        assert app.credits(key) == 3 and leftovers(app) == []
        assert usage.failures == {"video:processing_failed": 1}
