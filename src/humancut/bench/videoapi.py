"""The video API's targets (issue 28), against a real `humancut serve` on loopback:

- a clip (default 10 s at 720p) submitted over HTTP and polled until `task_status` 2, against
  remove_video in this process on the same clip (the CLI's engine), on the same settings;
- photo calls' p50 latency on an idle server, then on the same server holding `queued` video
  tasks (one processing, the rest queued): video runs on its own pool, so photos must not
  starve.

    humancut bench --video-api [--video-seconds 10] [--video-queued 20]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from ..api import ROUTE
from ..settings import Settings
from .photos import ASTRONAUT
from .servers import HumancutProcess
from .videoclips import Scene, write_scene

VIDEO_ROUTE = "/api/cutout/portrait/video-background-removal"
QUERY_ROUTE = "/api/common/query-async-task-result"


def _photo() -> bytes:
    return Path(str(ASTRONAUT)).read_bytes()


def _photo_p50(client: httpx.Client, url: str, key: str, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        resp = client.post(url + ROUTE, headers={"ailabapi-api-key": key},
                           files={"image": ("a.jpg", _photo(), "image/jpeg")})
        resp.raise_for_status()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _submit(client: httpx.Client, url: str, key: str, clip: Path) -> str:
    resp = client.post(url + VIDEO_ROUTE, headers={"ailabapi-api-key": key},
                       files={"video": (clip.name, clip.read_bytes())})
    resp.raise_for_status()
    return str(resp.json()["task_id"])


def _wait(client: httpx.Client, url: str, key: str, task_id: str) -> dict[str, Any]:
    while True:
        body = client.get(url + QUERY_ROUTE, params={"task_id": task_id},
                          headers={"ailabapi-api-key": key}).json()
        if body["task_status"] in (2, 3):
            return body
        time.sleep(0.2)


def run(seconds: float = 10.0, width: int = 1280, height: int = 720, queued: int = 20,
        photos: int = 15, say: Any = print) -> dict[str, Any]:
    from ..video import remove_video

    with tempfile.TemporaryDirectory(prefix="humancut-videoapi-") as tmp:
        work = Path(tmp)
        fps = 25
        clip = write_scene(work / "clip.mp4", Scene(width, height, max(1, round(seconds * fps))),
                           fps=fps)
        say(f"clip: {seconds:g} s at {width}x{height}")
        base = Settings.from_env()
        local = {}
        for label, threads in (("all_cores", 0), ("video_threads", base.video_threads)):
            start = time.perf_counter()
            remove_video(clip, work / "local.webm",
                         settings=base.replace(workers=1, threads=threads))
            local[label] = time.perf_counter() - start
            say(f"remove_video in this process, threads={threads}: {local[label]:.1f} s")
        env = {"HUMANCUT_VIDEO_QUEUE_SIZE": "0", "HUMANCUT_VIDEO_QUEUE_PER_KEY": "0",
               "HUMANCUT_LOG_LEVEL": "warning"}
        server = HumancutProcess(work / "data", [], env).start()
        try:
            key = server.new_key("bench")
            with httpx.Client(timeout=600) as client:
                start = time.perf_counter()
                done = _wait(client, server.url, key, _submit(client, server.url, key, clip))
                http = time.perf_counter() - start
                assert done["task_status"] == 2, done
                say(f"over HTTP to task_status 2: {http:.1f} s")
                idle = _photo_p50(client, server.url, key, photos)
                say(f"photo p50, idle: {idle * 1000:.0f} ms")
                for _ in range(queued):
                    _submit(client, server.url, key, clip)
                time.sleep(2)  # the first task under way
                loaded = _photo_p50(client, server.url, key, photos)
                say(f"photo p50, {queued} video tasks queued: {loaded * 1000:.0f} ms")
        finally:
            server.stop()
    return {"clip": {"seconds": seconds, "width": width, "height": height},
            "video_threads": base.video_threads, "local_all_cores_s": local["all_cores"],
            "local_s": local["video_threads"], "http_s": http,
            "http_over_local": http / local["video_threads"],
            "http_over_all_cores": http / local["all_cores"],
            "photo_p50_idle_ms": idle * 1000, "photo_p50_queued_ms": loaded * 1000,
            "queued": queued, "photo_slowdown": loaded / idle}


def render(report: dict[str, Any]) -> str:
    c = report["clip"]
    return "\n".join([
        f"video API bench: a {c['seconds']:g} s {c['width']}x{c['height']} clip",
        f"  remove_video, all cores   {report['local_all_cores_s']:7.1f} s",
        f"  remove_video, {report['video_threads']} thread(s) {report['local_s']:7.1f} s",
        f"  over HTTP to status 2     {report['http_s']:7.1f} s   "
        f"x{report['http_over_local']:.2f} of the same threads, "
        f"x{report['http_over_all_cores']:.2f} of all cores (target <= 1.3)",
        f"  photo p50 idle            {report['photo_p50_idle_ms']:7.0f} ms",
        f"  photo p50, {report['queued']} queued     {report['photo_p50_queued_ms']:7.0f} ms   "
        f"x{report['photo_slowdown']:.2f} (target <= 1.5)"])
