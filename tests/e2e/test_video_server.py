"""Video tasks against a real `humancut serve` over a socket (tests/support/server.py) with
the real model: the official `ailabtools-sdk`, unchanged, submits through its HTTP layer and
waits with `wait_for_task`, then the WebM's alpha decodes; its errors through the SDK; kill -9
with tasks queued and processing, then a start: every task ends, none twice, balances
exact; SIGTERM hands the running task back to the queue."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from ailabtools import AILabClient
from ailabtools.errors import AILabApiError

from humancut.api.video import QUERY_ROUTE, ROUTE
from humancut.settings import Settings
from humancut.store import open_keys
from humancut.store.tasks import DONE, FAILED, PROCESSING, QUEUED
from tests.support.server import Server, start
from tests.support.videoclips import broken_midway, clip, face, webm_alpha_frames

ENV = {"HUMANCUT_VIDEO_SIZE": "128", "HUMANCUT_VIDEO_LEASE": "4"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    srv = start(tmp_path_factory.mktemp("video"), ["--workers", "1"], ENV)
    yield srv
    srv.stop()


def sdk(base_url: str, key: str, fields: dict[str, Any], wait: bool = True) -> Any:
    async def go() -> Any:
        client = AILabClient(key, base_url=base_url, timeout=60)
        try:
            submitted = await client._requester.request("POST", ROUTE, body=fields,
                                                        multipart=True)
            if not wait:
                return submitted
            return await client.wait_for_task(submitted["task_id"], interval=0.3, timeout=180)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_the_sdk_submits_waits_and_downloads_a_transparent_webm(server):
    key = server.create_key(credits=3)
    done = sdk(server.url, key, {"video": clip(), "return_form": "webm"})
    assert done["task_status"] == 2 and done["data"]["task_status"] == 2
    url = done["data"]["video_url"]
    assert url.startswith(server.url + "/api/results/") and url.endswith(".webm")
    got = httpx.get(url, timeout=30)
    assert got.status_code == 200 and got.headers["content-type"] == "video/webm"
    frames = webm_alpha_frames(got.content)
    assert len(frames) == 20 == done["data"]["frames"]
    for index in (0, 10, 19):
        alpha = frames[index][..., 3]
        assert alpha[face(index=index)] == 255 and alpha[2, 2] == 0
    assert open_store(server).get(key.split("_")[1]).credits == 2


def test_the_sdk_sees_refusals_and_failed_tasks(server):
    key = server.create_key(credits=3)
    for fields, status, code in (
            ({"video": b"not a video at all" * 20}, 415, "UNSUPPORTED_FILE_TYPES"),
            ({"return_form": "webm"}, 400, "MISSING_PARAMETERS"),
            ({"video": clip(), "return_form": "gif"}, 400, "ERROR_INVALID_PARAMETER"),
            ({"video": clip(), "callback_url": "http://10.0.0.1/"}, 400,
             "ERROR_INVALID_PARAMETER"),
            ({"video": clip(1936, 96)}, 413, "FILE_RESOLUTION_EXCEEDS_LIMITS"),
            ({"video": clip()[:3000]}, 422, "FILE_DECODING_FAILURE")):
        with pytest.raises(AILabApiError) as refused:
            sdk(server.url, key, fields, wait=False)
        assert (refused.value.detail.status_code, refused.value.detail.code) == (status, code)
    async def wait_unknown() -> None:
        client = AILabClient(key, base_url=server.url)
        try:
            await client.wait_for_task("0" * 32)
        finally:
            await client.aclose()

    with pytest.raises(AILabApiError) as unknown:
        asyncio.run(wait_unknown())
    assert unknown.value.detail.code == "ERROR_TASK_NOT_FOUND"
    with pytest.raises(AILabApiError) as failed:
        sdk(server.url, key, {"video": broken_midway()})
    assert failed.value.detail.code == "FILE_DECODING_FAILURE"
    assert open_store(server).get(key.split("_")[1]).credits == 3  # given back


def open_store(server: Server) -> Any:
    return open_keys(Settings(data_dir=server.data_dir))


def submit(server: Server, key: str, data: bytes) -> str:
    resp = httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key},
                      files={"video": ("c.mp4", data)}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()["task_id"]


def status(server: Server, key: str, task_id: str) -> dict[str, Any]:
    return httpx.get(server.url + QUERY_ROUTE, params={"task_id": task_id},
                     headers={"ailabapi-api-key": key}, timeout=30).json()


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not {what} after {timeout} s")


def ends_in_log(log: str) -> Counter[str]:
    ends: Counter[str] = Counter()
    for line in log.splitlines():
        if '"event": "video_task"' in line:
            ends[json.loads(line[line.index("{"):])["task_id"]] += 1
    return ends


def test_kill_9_with_tasks_queued_and_processing_then_a_start_ends_every_task(tmp_path):
    srv = start(tmp_path, ["--workers", "1"], ENV)
    try:
        key = srv.create_key(credits=20)
        long = clip(seconds=4)  # 40 frames: seconds of work each
        ids = [submit(srv, key, long) for _ in range(3)]
        assert open_store(srv).get(key.split("_")[1]).credits == 17
        wait_until(lambda: status(srv, key, ids[0])["task_status"] == PROCESSING, 60,
                   "processing")
        srv.stop(signal.SIGKILL)
        store = open_store(srv)
        before = [store.task(i).status for i in ids]
        assert before[0] == PROCESSING and QUEUED in before[1:]
        killed_at = time.monotonic()
        srv = srv.restart()
        ended = wait_until(lambda: all(status(srv, key, i)["task_status"] in (DONE, FAILED)
                                       for i in ids), 120, "all ended")
        assert ended and time.monotonic() - killed_at < 120
        tasks = [store.task(i) for i in ids]
        charged = sum(t.credits for t in tasks if t.status == DONE)
        assert store.get(key.split("_")[1]).credits == 20 - charged
        assert all(t.status == DONE for t in tasks), [(t.status, t.message) for t in tasks]
        assert tasks[0].attempts == 2  # started again after the kill, from its first frame
        # a task's upload is deleted and its log line written just after its answer changes
        ends = wait_until(lambda: (e := ends_in_log(srv.log())) and all(e[i] for i in ids)
                          and e, 10, "logged")
        assert all(ends[i] == 1 for i in ids), ends  # none ran twice to completion
        uploads = Path(srv.data_dir) / "video-uploads"
        wait_until(lambda: not list(uploads.iterdir()), 10, "uploads deleted")
    finally:
        srv.stop()


def test_sigterm_hands_the_running_task_back_to_the_queue(tmp_path):
    srv = start(tmp_path, ["--workers", "1"], ENV)
    try:
        key = srv.create_key(credits=5)
        task_id = submit(srv, key, clip(seconds=8))  # 80 frames
        wait_until(lambda: status(srv, key, task_id)["data"].get("frames_done", 0) > 0, 60,
                   "under way")
        assert srv.stop(signal.SIGTERM) == 0
        store = open_store(srv)
        back = store.task(task_id)
        assert back.status == QUEUED and back.attempts == 0 and back.worker == ""
        assert store.get(key.split("_")[1]).credits == 4
        srv = srv.restart()
        wait_until(lambda: status(srv, key, task_id)["task_status"] == DONE, 120, "done")
        assert store.get(key.split("_")[1]).credits == 4
        wait_until(lambda: ends_in_log(srv.log())[task_id], 10, "logged")
        assert ends_in_log(srv.log())[task_id] == 1
    finally:
        srv.stop()


SAMPLES = Path(__file__).resolve().parents[2] / "src" / "humancut" / "web" / "static" / "samples"
VIDEO_SAMPLES = {"video_sample.sh": ["sh"], "video_sample.py": [sys.executable]}


def run_sample(name: str, server: Server, key: str, tmp_path: Path,
               **env: str) -> subprocess.CompletedProcess[str]:
    if name.endswith(".sh") and not (shutil.which("sh") and shutil.which("curl")):
        pytest.skip("sh or curl is missing")
    video = tmp_path / "clip.mp4"
    video.write_bytes(clip())
    inherited = {k: v for k, v in os.environ.items() if k not in ("OUTPUT", "RETURN_FORM")}
    full = {**inherited, "HUMANCUT_URL": server.url, "HUMANCUT_KEY": key,
            "VIDEO": str(video), **env}
    return subprocess.run([*VIDEO_SAMPLES[name], str(SAMPLES / name)], env=full, cwd=tmp_path,
                          capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.parametrize("name", list(VIDEO_SAMPLES))
def test_the_video_samples_submit_poll_and_save(name, server, tmp_path):
    out = tmp_path / "out.webm"
    done = run_sample(name, server, server.create_key(credits=2), tmp_path, OUTPUT=str(out))
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(server.url) + r"/api/results/[\w-]+\.webm", url), done.stdout
    frames = webm_alpha_frames(out.read_bytes())
    assert len(frames) == 20 and frames[5][..., 3][face(index=5)] == 255
    assert frames[5][2, 2, 3] == 0
    failed = run_sample(name, server, "hc_000000000000_" + "x" * 43, tmp_path)
    assert failed.returncode != 0 and "ERROR_APPLICATIONS_NOT_EXISTS" in failed.stderr
    assert not failed.stdout.strip()


def test_the_doc_shows_the_video_samples_as_they_are():
    doc = (SAMPLES.parents[4] / "docs" / "samples.md").read_text()
    for name in VIDEO_SAMPLES:
        assert (SAMPLES / name).read_text().strip() in doc, f"{name} differs from samples.md"
