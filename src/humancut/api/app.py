"""The HTTP service: route families, results, the page and health, composed into one app
around one request flow (service.py), with backends and runner chosen by the settings."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..admin import AdminError
from ..errors import ConfigError, HumancutError
from ..runner import Runner, create_runner
from ..settings import Settings, unknown_variables
from ..store import Backends, ResultStore, open_backends
from ..video import AlphaSource
from . import admin, ailab, pages, removebg, results, video
from .family import Family
from .middleware import ids_and_log
from .service import CutService
from .telemetry import Telemetry, metrics_router
from .videotasks import VideoWorker

# The first family also answers for paths that belong to no family (404s, /readyz, ...).
FAMILIES: list[Family] = [ailab.family, video.family, removebg.family, admin.family]
# The families whose calls are cut calls, counted in the metrics (telemetry.py).
CUTTING = (ailab.family.name, removebg.family.name)

log = logging.getLogger("humancut.api")


def create_app(settings: Settings | None = None, *, runner: Runner | None = None,
               backends: Backends | None = None,
               video_alphas: AlphaSource | None = None) -> FastAPI:
    """The app; `runner` and `backends` default to what the settings name (tests pass
    their own); `video_alphas`: where clips' chunks run (`serve --ray`: Ray tasks across the
    cluster), else each clip is matted by the server's video threads."""
    settings = settings or Settings.from_env()
    backends = backends or open_backends(settings)
    runner = runner or create_runner(settings)
    try:
        admin_token = settings.admin_secret()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    telemetry = Telemetry(settings, runner, CUTTING)
    metrics = metrics_router(settings, telemetry, admin_token)  # a bad setting fails here
    service = CutService(settings, backends, runner, telemetry)
    worker = VideoWorker(settings, backends, telemetry.video, video_alphas)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # In the server's log too (the CLI prints them on stderr): a mistyped variable is
        # seen where the logs are collected, and with `serve deploy`, which has no CLI.
        for warning in unknown_variables():
            log.warning(json.dumps({"event": "unknown_variable", "warning": warning}))
        await runner.start()
        if settings.trial_key:
            app.state.trial_secret = await run_in_threadpool(pages.new_trial_key,
                                                             backends.keys, settings)
        sweeper = asyncio.create_task(_sweep_forever(backends.results, settings.sweep_interval))
        worker.start()
        yield
        await run_in_threadpool(worker.stop)  # running tasks go back to the queue
        sweeper.cancel()
        runner.close()
        await backends.close()

    app = FastAPI(title="humancut", version=__version__, lifespan=lifespan,
                  description=pages.describe(ailab.ROUTE))
    app.state.service, app.state.trial_secret, app.state.video = service, None, worker
    app.state.draining = False  # set on SIGTERM by `serve` (cli/serve.py): /readyz answers 503
    app.state.admin = admin.Guard(admin_token, backends.limiter) if admin_token else None
    if settings.cors_origins:
        app.add_middleware(CorsExceptAdmin,  # type: ignore[arg-type]  # a class, as Starlette's own
                           allow_methods=["GET", "POST"],
                           allow_origins=[o.strip() for o in settings.cors_origins.split(",")],
                           allow_headers=[ailab.KEY_HEADER, removebg.KEY_HEADER,
                                          "content-type"])
    app.middleware("http")(ids_and_log)
    _handle_errors(app)
    for family in FAMILIES:
        app.include_router(family.router)
    app.include_router(results.router)
    app.include_router(pages.router)
    if metrics is not None:
        app.include_router(metrics)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    return app


class CorsExceptAdmin:
    """CORS for the API families, never for /admin: the console answers its own origin only
    (api/admin.py refuses the others)."""

    def __init__(self, app: ASGIApp, **options: Any):
        self.app, self.cors = app, CORSMiddleware(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        inner = self.app if path == admin.PREFIX or path.startswith(admin.PREFIX + "/") \
            else self.cors
        await inner(scope, receive, send)


def render_error(request: Request, exc: HumancutError) -> Response:
    """In the format of the family whose path was called."""
    request.state.log["outcome"] = exc.code
    path = request.url.path
    family = next((f for f in FAMILIES if f.owns(path)), FAMILIES[0])
    response = family.render_error(request, exc)
    response.headers.setdefault("X-Request-Id", request.state.request_id)
    return response


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(AdminError)
    async def on_admin_error(request: Request, exc: AdminError) -> Response:
        request.state.log["outcome"] = exc.code
        return admin.error_response(exc)

    @app.exception_handler(HumancutError)
    async def on_humancut_error(request: Request, exc: HumancutError) -> Response:
        return render_error(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            return render_error(request, HumancutError(
                "method_not_allowed", f"{request.method} is not allowed here."))
        return render_error(request, HumancutError(
            "not_found", f"There is nothing at {request.url.path}."))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        return render_error(request, HumancutError("invalid_parameter", str(exc.errors())[:500]))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error in %s", request.url.path)
        return render_error(request, HumancutError(
            "processing_failed", "The server failed to process the request."))


async def _sweep_forever(results: ResultStore, interval: float) -> None:
    while True:
        try:
            removed = await run_in_threadpool(results.sweep)
            if removed:
                log.info(json.dumps({"event": "sweep", "removed": removed}))
        except Exception:
            log.exception("sweeping expired results failed")
        await asyncio.sleep(interval)
