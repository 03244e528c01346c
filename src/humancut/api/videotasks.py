"""The video worker: threads of their own (video_workers of them, each onnxruntime session
on video_threads threads), apart from the photos' runner, so queued clips never starve photo
calls. Each thread claims a task from the key store (store/tasks.py), cuts the clip with
humancut.video.remove_video, stores the result in the result store and ends the task; a
failure ends it as failed with its credits back. A shutdown hands running tasks back to the
queue; a server that died leaves them leased, and the lease's end lets any server start
them again. Also: the query answer of a task (the route's and the webhook's body)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import HumancutError
from ..settings import Settings
from ..store import Backends, Stored
from ..store.keys import VIDEO_OK
from ..store.tasks import DONE, FAILED, PROCESSING, Task
from ..video import SUFFIXES, AlphaSource, VideoLimits, remove_video, video_session
from .ailab import CODES
from .service import RESULTS
from .telemetry import VideoMetrics
from .webhook import deliver

CONTENT_TYPES = {".webm": "video/webm", ".mov": "video/quicktime", ".zip": "application/zip",
                 ".mp4": "video/mp4"}
POLL = 1.0  # seconds between looks at the queue when no submission woke the worker
HEARTBEAT = 1.0  # seconds between progress writes (each renews the lease)
SWEEP_EVERY = 60.0  # seconds between deletions of uploads no open task needs
log = logging.getLogger("humancut.video")


class _Stop(Exception):
    """The server is shutting down: hand the task back."""


class _Lost(Exception):
    """Another worker holds the task now (our lease ran out): drop it."""


def answer(task: Task, base_url: str, results: Any, request_id: str = "",
           log_id: str = "") -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the query for `task`: the AILabTools envelope with task_type,
    task_id and task_status at the top level and task_status in `data`; a failed task's
    envelope carries its error."""
    data: dict[str, Any] = {"task_status": task.status, "progress": task.progress}
    status, code, code_message, message = 200, "", "", ""
    if task.status == PROCESSING:
        data |= {"frames_done": task.frames_done, "frames": task.frames}
    elif task.status == DONE:
        r = task.result
        stored = Stored(r["token"], r["content_type"], r["expires_at"])
        data |= {"video_url": results.url(stored, base_url + RESULTS),
                 **{k: r[k] for k in ("frames", "duration", "width", "height", "fps", "form")}}
    elif task.status == FAILED:
        code, status, code_message = CODES.get(task.error, CODES["processing_failed"])
        message = task.message
    body = {"request_id": request_id or str(uuid.uuid4()), "log_id": log_id or
            secrets.token_hex(8), "error_code": 0 if status == 200 else status,
            "error_code_str": code, "error_msg": message,
            "error_detail": {"status_code": status, "code": code, "code_message": code_message,
                             "message": message},
            "task_type": "async", "task_id": task.id, "task_status": task.status, "data": data}
    return status, body


class VideoWorker:
    def __init__(self, settings: Settings, backends: Backends, metrics: VideoMetrics,
                 alphas_from: AlphaSource | None = None):
        self.settings, self.backends, self.metrics = settings, backends, metrics
        self.alphas_from = alphas_from
        self.uploads = Path(settings.video_upload_dir or
                            Path(settings.data_dir) / "video-uploads")
        self.work = Path(settings.data_dir) / "video-work"
        self.name = f"{secrets.token_hex(6)}"  # this process's claim on its tasks
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._hooks = ThreadPoolExecutor(2, thread_name_prefix="humancut-webhook")
        self._session: Any = None
        self._session_lock = threading.Lock()
        self._swept = 0.0
        # One clip on video_threads threads, never parallel chunks in other processes
        # (video.chunks spreads a clip over `workers` processes): the pool's bound holds.
        # Only a cluster (alphas_from) takes a clip's chunks elsewhere.
        self._clip = settings.replace(workers=1, threads=settings.video_threads)
        metrics.queue.set_function(self._depth)

    def start(self) -> None:
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        for n in range(self.settings.video_workers):
            thread = threading.Thread(target=self._loop, args=(f"{self.name}-{n}",),
                                      name=f"humancut-video-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Running tasks are handed back to the queue (at their next frame)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._hooks.shutdown(wait=False)

    def _depth(self) -> float:
        try:
            return float(self.backends.tasks.open_tasks())
        except Exception:  # noqa: BLE001 - a scrape never fails for it
            return float("nan")

    def _loop(self, worker: str) -> None:
        while not self._stop.is_set():
            failed: list[Task] = []
            try:
                self._sweep()
                task = self.backends.tasks.claim(worker, self.settings.video_lease,
                                                 self.settings.video_attempts, failed)
            except Exception:  # the store is unreachable: try again later
                log.exception("claiming a video task failed")
                task = None
            for ended in failed:  # started too often (its servers died): ended in claim
                self._after_end(ended, False, ended.error)
            if task is None:
                self._wake.wait(POLL)
                self._wake.clear()
                continue
            try:
                self._process(task, worker)
            except Exception:
                log.exception("video task %s failed unexpectedly", task.id)

    def session(self) -> Any:
        with self._session_lock:
            if self._session is None:
                self._session = video_session(self._clip)
            return self._session

    def _process(self, task: Task, worker: str) -> None:
        out = self.work / f"{task.id}{SUFFIXES[task.form]}"
        beat = [0.0]

        def progress(done: int, total: int) -> None:
            if self._stop.is_set():
                raise _Stop
            now = time.monotonic()
            if now - beat[0] >= HEARTBEAT:
                beat[0] = now
                if not self.backends.tasks.heartbeat(task.id, worker, done, total,
                                                     self.settings.video_lease):
                    raise _Lost

        try:
            summary = remove_video(self.uploads / task.upload, out, form=task.form,
                                   bg_color=task.bg_color or None, settings=self._clip,
                                   progress=progress, limits=VideoLimits.of(self.settings),
                                   session=self.session(), alphas_from=self.alphas_from)
            # The lease renewed before the upload to the result store (S3 may be slow).
            if not self.backends.tasks.heartbeat(task.id, worker, summary.frames,
                                                 summary.frames, self.settings.video_lease):
                raise _Lost
            result = self._store(out, summary.as_dict())
        except _Stop:
            if self.backends.tasks.requeue(task.id, worker):
                self.metrics.tasks.labels("requeued").inc()
            return
        except _Lost:
            return
        except HumancutError as exc:
            self._ended(task, worker, None, exc.code, exc.message)
            return
        except Exception as exc:
            log.exception("video task %s failed", task.id)
            self._ended(task, worker, None, "processing_failed",
                        f"The video could not be processed ({type(exc).__name__}).")
            return
        finally:
            out.unlink(missing_ok=True)
        self._ended(task, worker, result, "", "")

    def _store(self, out: Path, summary: dict[str, Any]) -> dict[str, Any]:
        content_type = CONTENT_TYPES[out.suffix]
        try:
            stored = self.backends.results.put(out.read_bytes(), content_type,
                                               self.settings.result_ttl)
        except OSError as exc:
            raise HumancutError("processing_failed", "The result could not be stored; "
                                "submit the clip again later.") from exc
        return {"token": stored.token, "content_type": content_type,
                "expires_at": stored.expires_at, **summary}

    def _ended(self, task: Task, worker: str, result: dict[str, Any] | None, error: str,
               message: str) -> None:
        """End the task (done with `result`, else failed with its credits back), then
        delete its upload, count it, and call its webhook."""
        tasks = self.backends.tasks
        ok = result is not None
        if not (tasks.finish(task.id, worker, result) if result is not None
                else tasks.fail(task.id, worker, error, message)):
            return  # another worker holds it now
        self._after_end(tasks.task(task.id) or task, ok, error)

    def _after_end(self, task: Task, ok: bool, error: str) -> None:
        """Once a task has ended: delete its upload, count it, call its webhook. The usage
        row comes last of the bookkeeping so that a reader who sees it sees the rest."""
        (self.uploads / task.upload).unlink(missing_ok=True)
        seconds = float(task.result.get("duration", 0.0)) if ok else 0.0
        outcome = "ok" if ok else "failed"
        self.metrics.tasks.labels(outcome).inc()
        self.metrics.duration.labels(outcome).observe(max(0.0, time.time() - task.created_at))
        if ok:
            self.metrics.frames.inc(int(task.result.get("frames", 0)))
            self.metrics.seconds.inc(seconds)
        try:
            if ok:
                self.backends.keys.record_usage(task.key_id, VIDEO_OK, task.credits,
                                                seconds=seconds)
            else:
                self.backends.keys.record_usage(task.key_id, f"video:{error}")
        except Exception:  # noqa: BLE001 - logged; the task stands
            log.exception("recording the usage of video task %s failed", task.id)
        log.info(json.dumps({"event": "video_task", "task_id": task.id, "key_id": task.key_id,
                             "outcome": error or "ok", "credits": task.credits,
                             "seconds": round(seconds, 2)}))
        if task.callback_url:
            body = answer(task, task.base_url, self.backends.results)[1]
            self._hooks.submit(asyncio.run, deliver(task.callback_url, body, self.settings))

    def _sweep(self) -> None:
        """Delete uploads no open task needs (a server that died between a task's end and
        the deletion, or during a submission), at most once a minute."""
        now = time.time()
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        keep = self.backends.tasks.open_uploads()
        for path in self.uploads.iterdir():
            if path.name not in keep and path.stat().st_mtime < now - SWEEP_EVERY:
                path.unlink(missing_ok=True)
