"""Video in the AILabTools family (docs/video.md#the-api-asynchronous-tasks): a clip is
submitted and answered at once with a task id (`task_type` "async"), then polled with the
family's async query route, as AILabTools' own long-running APIs and the `ailabtools-sdk`
(`wait_for_task`) do. Everything that needs no decoding is checked before the answer (key,
limits, fields, credits, the clip's size, container, duration and frame size from its
header); the clip is cut later by the video worker (videotasks.py)."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..errors import HumancutError
from ..store import ApiKey
from ..store.tasks import Task, new_task_id
from ..video import VideoLimits, probe
from . import webhook
from .ailab import KEY_HEADER, NAME, envelope, render_error
from .family import Family
from .service import Call, CutService, call_of, service_of
from .upload import Part
from .videotasks import VideoWorker, answer
from .videoupload import read_video

ROUTE = "/api/cutout/portrait/video-background-removal"
QUERY_ROUTE = "/api/common/query-async-task-result"
SECONDS_PER_CREDIT = 10  # one credit per started 10 s of video
RETRY_AFTER = 10  # seconds, when the video queue (the key's or the server's) is full
FORMS = ("webm", "mov", "png_zip", "mask", "whiteBK")

router = APIRouter()


def worker_of(request: Request) -> VideoWorker:
    return request.app.state.video


def credits_for(seconds: float) -> int:
    """One credit per started 10 seconds (a 12 s clip costs 2); at least one."""
    return max(1, math.ceil(round(seconds, 3) / SECONDS_PER_CREDIT))


@router.post(ROUTE, summary="Remove the background behind people in a video (a task)",
             responses={200: {"description": "The envelope with task_type and task_id"}})
async def video_background_removal(request: Request) -> JSONResponse:
    service = service_of(request)
    call = call_of(request, KEY_HEADER, NAME)
    key = await service.authenticate(call.secret, call.header, count=True)
    call.log["key_id"] = key.id
    s = service.settings
    admission = await service.limiter.acquire(
        key.id, s.rate_per_minute if key.rate_per_minute is None else key.rate_per_minute,
        s.max_in_flight if key.max_in_flight is None else key.max_in_flight)
    try:
        task = await _accept(request, service, call, key)
    except HumancutError as exc:
        exc.headers = {**admission.headers, **exc.headers}
        await service.record(key, f"video:{exc.code}")
        raise
    finally:
        await service.limiter.release(key.id, admission)
    worker_of(request).wake()
    call.log.update(outcome="accepted", task_id=task.id, credits=task.credits)
    return JSONResponse(envelope(request) | {"task_type": "async", "task_id": task.id,
                                             "task_status": task.status},
                        headers=admission.headers)


async def _accept(request: Request, service: CutService, call: Call, key: ApiKey) -> Task:
    s = service.settings
    await _check_queues(service, key)
    task_id = new_task_id()
    upload = worker_of(request).uploads / f"{task_id}.clip"
    try:
        parts, size = await read_video(request, s, upload)
        video = parts.get("video")
        if video is None or (not size and not video.filename):
            raise HumancutError("missing_parameter", "The `video` file field is missing.")
        form, bg_color = _form(parts)
        callback = _text(parts, "callback_url")
        if callback:
            callback = await webhook.check(callback, s)
        call.log.update(form=form, in_bytes=size)
        info = await run_in_threadpool(probe, upload, VideoLimits.of(s))
        task = Task(task_id, key.id, 0, credits_for(info.duration), form, bg_color, callback,
                    call.base_url, upload.name, info.duration, info.frames)
        await _check_queues(service, key)  # again: others may have submitted meanwhile
        accepted = await run_in_threadpool(service.backends.tasks.submit, task)
        if accepted is None:
            raise HumancutError("no_credits", f"This clip costs {task.credits} credits "
                                f"(one per started {SECONDS_PER_CREDIT} s); the key has fewer.")
    except BaseException:
        upload.unlink(missing_ok=True)
        raise
    return accepted


async def _check_queues(service: CutService, key: ApiKey) -> None:
    s, tasks = service.settings, service.backends.tasks
    retry = {"Retry-After": str(RETRY_AFTER)}
    if s.video_queue_per_key and await run_in_threadpool(tasks.open_tasks, key.id) \
            >= s.video_queue_per_key:
        raise HumancutError("rate_limited", f"This key has {s.video_queue_per_key} video "
                            "tasks queued or processing; submit more once one ends.",
                            headers=retry)
    if s.video_queue_size and await run_in_threadpool(tasks.open_tasks) >= s.video_queue_size:
        raise HumancutError("busy", "The server's video queue is full; try again later.",
                            headers=retry)


def _text(parts: dict[str, Part], name: str) -> str:
    part = parts.get(name)
    return part.text if part is not None else ""


def _form(parts: dict[str, Part]) -> tuple[str, str]:
    """(form, bg_color as 6 hex digits or "") from `return_form` and `bg_color`."""
    form, colour = _text(parts, "return_form") or "webm", _text(parts, "bg_color")
    if form not in FORMS:
        raise HumancutError("invalid_parameter", f"return_form must be one of "
                            f"{', '.join(FORMS)}, not {form!r}.")
    if colour:
        hexes = colour.removeprefix("#")
        if len(hexes) != 6 or any(c not in "0123456789abcdefABCDEF" for c in hexes):
            raise HumancutError("invalid_parameter",
                                f"bg_color must be a hex colour like ff8800, not {colour!r}.")
        if form != "whiteBK" and _text(parts, "return_form"):
            raise HumancutError("invalid_parameter", "bg_color goes with return_form "
                                "whiteBK (an opaque clip on that colour).")
        return "whiteBK", hexes.lower()
    return form, ""


@router.get(QUERY_ROUTE, summary="The state of an asynchronous task (a video)")
async def query_async_task_result(request: Request) -> JSONResponse:
    service = service_of(request)
    key = await service.authenticate(request.headers.get(KEY_HEADER), KEY_HEADER)
    task_id = request.query_params.get("task_id", "").strip()
    if not task_id:
        raise HumancutError("missing_parameter", "The `task_id` query parameter is missing.")
    task = None
    if len(task_id) == 32 and all(c in "0123456789abcdef" for c in task_id):
        task = await run_in_threadpool(service.backends.tasks.task, task_id)
    if task is None or task.key_id != key.id:  # another key's task: as if it did not exist
        raise HumancutError("task_not_found", f"There is no task {task_id!r} for this key.")
    base = call_of(request, KEY_HEADER, NAME).base_url
    status, body = answer(task, base, service.results, request.state.request_id,
                          request.state.log_id)
    request.state.log.update(task_id=task.id, task_status=task.status)
    return JSONResponse(body, status_code=status)


family = Family("ailab-video", router, (ROUTE, QUERY_ROUTE), render_error)
