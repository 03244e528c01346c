"""The HTTP service: the AILabTools-compatible endpoint, result URLs, health, the page."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import HumancutError
from ..remover import Remover
from ..runner import Runner, ThreadRunner
from ..settings import Settings
from ..store import ApiKey, FileResultStore, KeyStore, ResultStore, SQLiteKeyStore
from .envelope import error_response, success
from .limits import KeyLimiter
from .upload import MULTIPART_OVERHEAD, read_form

ROUTE = "/api/cutout/portrait/portrait-background-removal"
RESULTS = "/api/results"
RETURN_FORMS = {"": "rgba", "mask": "mask", "whiteBK": "whiteBK", "crop": "crop"}
DRAIN_LIMIT = 32 * 1024 * 1024  # read and drop at most this much of a refused body
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "style-src 'self'; script-src 'self'; connect-src 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")

log = logging.getLogger("humancut.api")


def new_log_id() -> str:
    return time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(6).upper()


def create_app(settings: Settings | None = None, *, runner: Runner | None = None,
               keys: KeyStore | None = None, results: ResultStore | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    data_dir = Path(settings.data_dir)
    keys = keys or SQLiteKeyStore(data_dir / "keys.db")
    results = results or FileResultStore(data_dir)
    runner = runner or ThreadRunner(Remover(settings), workers=settings.workers,
                                    queue_size=settings.queue_size,
                                    timeout=settings.request_timeout, max_side=settings.max_side)

    limiter = KeyLimiter()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runner.start()
        if settings.trial_key:
            app.state.trial_secret = await run_in_threadpool(_new_trial_key, keys, settings)
        sweeper = asyncio.create_task(_sweep_forever(results, settings.sweep_interval))
        yield
        sweeper.cancel()
        runner.close()

    app = FastAPI(title="humancut", version="0.1.0", lifespan=lifespan,
                  description=_describe())
    app.state.settings, app.state.keys, app.state.results, app.state.runner = \
        settings, keys, results, runner
    app.state.trial_secret = None
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_methods=["GET", "POST"],
                           allow_origins=[o.strip() for o in settings.cors_origins.split(",")],
                           allow_headers=["ailabapi-api-key", "content-type"])

    @app.middleware("http")
    async def ids_and_log(request: Request, call_next: Any) -> Response:
        request.state.request_id = str(uuid.uuid4())
        request.state.log_id = new_log_id()
        request.state.log = {}
        start = time.perf_counter()
        response = await call_next(request)
        response.headers.setdefault("X-Request-Id", request.state.request_id)
        response.headers.setdefault("X-Log-Id", request.state.log_id)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        line = {"request_id": request.state.request_id, "log_id": request.state.log_id,
                "method": request.method, "path": _loggable_path(request.url.path),
                "status": response.status_code,
                "ms": round((time.perf_counter() - start) * 1000, 1), **request.state.log}
        log.info(json.dumps(line))
        return response

    def fail(request: Request, exc: HumancutError) -> JSONResponse:
        request.state.log.update(outcome=exc.code)
        return error_response(request.state.request_id, request.state.log_id, exc)

    @app.exception_handler(HumancutError)
    async def on_humancut_error(request: Request, exc: HumancutError) -> JSONResponse:
        return fail(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 405:
            return fail(request, HumancutError("ERROR_METHOD_NOT_ALLOWED",
                                               f"{request.method} is not allowed here."))
        return fail(request, HumancutError("ERROR_RESOURCE_NOT_FOUND",
                                           f"There is nothing at {request.url.path}."))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return fail(request, HumancutError("ERROR_INVALID_PARAMETER", str(exc.errors())[:500]))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s", request.url.path)
        return error_response(request.state.request_id, request.state.log_id,
                              HumancutError("PROCESSING_FAILURE",
                                            "The server failed to process the request."))

    @app.post(ROUTE, summary="Remove the background behind people",
              responses={200: {"description": "The envelope with data.image_url"}})
    async def portrait_background_removal(request: Request) -> JSONResponse:
        key = await _authenticate(request, keys)
        request.state.log["key_id"] = key.id
        limit_headers = limiter.acquire(
            key.id, settings.rate_per_minute if key.rate_per_minute is None
            else key.rate_per_minute,
            settings.max_in_flight if key.max_in_flight is None else key.max_in_flight)
        try:
            response = await _cut(request, key)
        except HumancutError as exc:
            exc.headers = {**limit_headers, **exc.headers}
            raise
        finally:
            limiter.release(key.id)
        response.headers.update(limit_headers)
        return response

    async def _cut(request: Request, key: ApiKey) -> JSONResponse:
        parts = await _read_upload(request, settings)
        form = _return_form(parts)
        request.state.log["form"] = form
        image = parts.get("image")
        if image is None or (not image.data and not image.filename):  # no file chosen
            raise HumancutError("MISSING_PARAMETERS", "The `image` file field is missing.")
        request.state.log["in_bytes"] = len(image.data)
        if not await run_in_threadpool(keys.reserve_credit, key.id):
            raise HumancutError("ERROR_NOT_ENOUGH_CREDITS",
                                "This API key has no credits left.")
        try:
            out = await runner.cut(bytes(image.data), form)
            stored = await run_in_threadpool(results.put, out.png, "image/png",
                                             settings.result_ttl)
        except OSError as exc:  # e.g. the data dir is full or read-only
            await run_in_threadpool(keys.refund_credit, key.id)
            log.error(json.dumps({"event": "store_failed", "log_id": request.state.log_id,
                                  "error": f"{type(exc).__name__}: {exc}"}))
            raise HumancutError("PROCESSING_FAILURE",
                                "The result could not be stored; try again later.") from None
        except BaseException:
            await run_in_threadpool(keys.refund_credit, key.id)
            raise
        request.state.log.update(outcome="ok", out_bytes=len(out.png),
                                 out_size=f"{out.width}x{out.height}",
                                 **{k: round(v, 1) for k, v in out.timings.items()})
        url = f"{_base_url(request, settings)}{RESULTS}/{stored.path.name}"
        return JSONResponse(success(request.state.request_id, request.state.log_id, url))

    @app.get(RESULTS + "/{name}", summary="A result, until it expires")
    async def result(name: str) -> Response:
        token = name.rsplit(".", 1)[0]
        found = await run_in_threadpool(results.get, token)
        if found is None or found.path.name != name:
            raise HumancutError("ERROR_RESOURCE_NOT_FOUND",
                                "This result does not exist or has expired.")
        try:
            data = await run_in_threadpool(found.path.read_bytes)
        except OSError:  # deleted or unreadable behind our back
            raise HumancutError("ERROR_RESOURCE_NOT_FOUND", "This result is gone.") from None
        remaining = max(0, int(found.expires_at - time.time()))
        return Response(data, media_type=found.content_type,
                        headers={"Cache-Control": f"private, max-age={remaining}"})

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/trial", summary="The demo key for the trial page, when enabled")
    async def trial() -> JSONResponse:
        if not app.state.trial_secret:
            raise HumancutError("ERROR_RESOURCE_NOT_FOUND", "Trial mode is off on this server.")
        return JSONResponse({"enabled": True, "key": app.state.trial_secret,
                             "rate_per_minute": settings.trial_rate_per_minute},
                            headers={"Cache-Control": "no-store"})

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Ready: the model is loaded")
    async def readyz() -> JSONResponse:
        if not runner.ready:
            raise HumancutError("AI_SERVICE_FLOW_RESTRICTION", "The model is still loading.")
        return JSONResponse({"status": "ready"})

    return app


SAMPLES = {"sample.sh": ("curl", "sh"), "sample_httpx.py": ("Python, httpx", "python"),
           "sample_sdk.py": ("Python, ailabtools-sdk", "python"),
           "sample_fetch.js": ("JavaScript, fetch", "javascript")}


def _describe() -> str:
    """The /docs front matter: what the service is, then the sample programs as shipped."""
    text = ("Human background removal, compatible with AILabTools' API: POST a photo as "
            f"multipart/form-data to `{ROUTE}` with the `ailabapi-api-key` header. The "
            "samples read HUMANCUT_URL, HUMANCUT_KEY and IMAGE from the environment; they are "
            "also served at `/static/samples/<name>`.\n")
    for name, (title, lang) in SAMPLES.items():
        code = (STATIC / "samples" / name).read_text(encoding="utf-8").strip()
        text += f"\n### {title} (`{name}`)\n\n```{lang}\n{code}\n```\n"
    return text


TRIAL_NAME = "trial page (made at start)"


def _new_trial_key(keys: KeyStore, settings: Settings) -> str:
    """A fresh demo key for this run; the previous runs' ones are revoked."""
    for old in keys.list():
        if old.name == TRIAL_NAME and old.status != "revoked":
            keys.set_status(old.id, "revoked")
    _, secret = keys.create(TRIAL_NAME, rate_per_minute=settings.trial_rate_per_minute,
                            max_in_flight=1)
    return secret


async def _authenticate(request: Request, keys: KeyStore) -> ApiKey:
    secret = request.headers.get("ailabapi-api-key")
    if not secret:
        raise HumancutError("MISSING_PARAMETERS", "The `ailabapi-api-key` header is missing.")
    key = await run_in_threadpool(keys.authenticate, secret.strip())
    if key is None or key.status == "revoked":
        raise HumancutError("ERROR_APPLICATIONS_NOT_EXISTS",
                            "This API key does not exist or was revoked.")
    if key.status != "active":
        raise HumancutError("ERROR_USER_LOCKED", "This API key is disabled by the operator.")
    return key


async def _read_upload(request: Request, settings: Settings) -> dict[str, Any]:
    """Parse the multipart body, stopping at the limits; a refused body is drained (up to a
    bound) so the client reads our answer instead of a reset connection."""
    max_body = max(settings.max_body_bytes, settings.max_bytes + MULTIPART_OVERHEAD)
    stream = request.stream()
    try:
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_body:
            raise HumancutError("ERROR_REQUEST_BODY_TOO_LARGE",
                                f"The request body is {declared} bytes; the limit is "
                                f"{max_body} bytes, and the image at most "
                                f"{settings.max_bytes} bytes.")
        async with asyncio.timeout(settings.upload_timeout):
            return await read_form(request.headers.get("content-type", ""), stream,
                                   max_file=settings.max_bytes, max_body=max_body)
    except TimeoutError:
        raise HumancutError("REQUEST_TIMEOUT", f"The upload took longer than "
                            f"{settings.upload_timeout:g} s; send it faster.") from None
    except HumancutError:
        drained = 0
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                async for chunk in stream:
                    drained += len(chunk)
                    if drained > DRAIN_LIMIT:
                        break
        raise


def _return_form(parts: dict[str, Any]) -> str:
    part = parts.get("return_form")
    value = part.text if part is not None else ""
    if value not in RETURN_FORMS:
        raise HumancutError("ERROR_INVALID_PARAMETER",
                            f"return_form must be empty, mask, whiteBK or crop, not {value!r}.")
    return RETURN_FORMS[value]


def _base_url(request: Request, settings: Settings) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    proto = proto if proto in ("http", "https") else request.url.scheme
    if not _HOST.match(host):
        host = request.url.netloc
    return f"{proto}://{host}"


def _loggable_path(path: str) -> str:
    # Result tokens are bearer secrets: keep them out of the log.
    return RESULTS + "/<token>" if path.startswith(RESULTS + "/") else path


async def _sweep_forever(results: ResultStore, interval: float) -> None:
    while True:
        try:
            removed = await run_in_threadpool(results.sweep)
            if removed:
                log.info(json.dumps({"event": "sweep", "removed": removed}))
        except Exception:
            log.exception("sweeping expired results failed")
        await asyncio.sleep(interval)
