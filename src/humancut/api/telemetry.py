"""Prometheus metrics at GET /metrics (docs/metrics.md), fed by the one request flow
(service.py). Each app has its own registry, so several apps in one process (the tests, a
Ray ingress beside others) never share or clash over a metric."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .. import __version__
from ..errors import PROBLEMS, ConfigError, HumancutError
from ..job import Cut
from ..runner import Runner
from ..settings import Settings

# Seconds. A whole call spans the upload, the queue and the result's storage; the model's
# part is a fraction of a second on a CPU for a photo, seconds for a large or zoomed one.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
MODEL_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15)
SWITCH = ("on", "off")
CREDITS_PER_CUT = 1  # what a successful cut charges (remove.bg's X-Credits-Charged too)


class Telemetry:
    """The metrics of one app; `observe` is called once per cut call."""

    def __init__(self, settings: Settings, runner: Runner, families: Sequence[str] = ()):
        self.registry = r = CollectorRegistry()
        self.requests = Counter("humancut_requests", "Cut calls, by route family and outcome "
                                "(ok, or the problem: no_person, rate_limited, ...)",
                                ["family", "outcome"], registry=r)
        self.duration = Histogram("humancut_request_duration_seconds",
                                  "Whole cut calls, from the request to the answer",
                                  ["family"], buckets=CALL_BUCKETS, registry=r)
        self.model = Histogram("humancut_model_duration_seconds",
                               "The model's part of successful cut calls",
                               buckets=MODEL_BUCKETS, registry=r)
        self.in_flight = Gauge("humancut_in_flight", "Cut calls in progress", registry=r)
        queue = Gauge("humancut_queue_depth", "Images handed to the runner and not yet "
                      "being processed (Ray: not yet answered by a model replica)", registry=r)
        queue.set_function(lambda: runner.queued)
        self.credits = Counter("humancut_credits_charged", "Credits charged (one per "
                               "successful cut; unlimited keys included)", registry=r)
        # Every family's series exist from the start, at 0: a ratio over an outcome that has
        # not happened yet is then 0, not an empty answer (docs/metrics.md's queries).
        for family in families:
            self.duration.labels(family)
            for outcome in ("ok", *PROBLEMS):
                self.requests.labels(family, outcome)
        self.video = VideoMetrics(r)
        info = Gauge("humancut_build_info", "1, labelled with what this server runs",
                     ["version", "model", "preset"], registry=r)
        info.labels(__version__, settings.model, settings.preset).set(1)

    def observe(self, family: str, outcome: str, seconds: float, cut: Cut | None) -> None:
        """One cut call of `family`; `cut` when it succeeded (and was charged)."""
        self.requests.labels(family, outcome).inc()
        self.duration.labels(family).observe(seconds)
        if cut is not None:
            self.credits.inc(CREDITS_PER_CUT)
            if "model_ms" in cut.timings:
                self.model.observe(cut.timings["model_ms"] / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)


TASK_BUCKETS = (1, 2, 5, 10, 20, 40, 60, 120, 300, 600, 1200)
VIDEO_OUTCOMES = ("ok", "failed", "requeued")


class VideoMetrics:
    """The video tasks' series (docs/metrics.md): tasks by outcome, frames and seconds of
    video processed, open tasks, and each task's time from submission to its end."""

    def __init__(self, r: CollectorRegistry):
        self.tasks = Counter("humancut_video_tasks", "Video tasks that ended (ok, failed) or "
                             "were handed back to the queue by a shutdown (requeued)",
                             ["outcome"], registry=r)
        for outcome in VIDEO_OUTCOMES:
            self.tasks.labels(outcome)
        self.frames = Counter("humancut_video_frames", "Video frames processed", registry=r)
        self.seconds = Counter("humancut_video_seconds",
                               "Seconds of video in the tasks done", registry=r)
        self.queue = Gauge("humancut_video_queue_depth", "Video tasks queued or processing "
                           "in the key store (every server's)", registry=r)
        self.duration = Histogram("humancut_video_task_duration_seconds", "Video tasks, "
                                  "from submission to their end", ["outcome"],
                                  buckets=TASK_BUCKETS, registry=r)


def metrics_router(settings: Settings, telemetry: Telemetry, token: str) -> APIRouter | None:
    """GET /metrics, behind `Authorization: Bearer <token>` when `token` (the admin token,
    Settings.admin_secret) is set; None when `metrics` is off."""
    if settings.metrics not in SWITCH:
        raise ConfigError(f"HUMANCUT_METRICS={settings.metrics!r}: must be on or off")
    if settings.metrics == "off":
        return None
    router = APIRouter()

    @router.get("/metrics", summary="Prometheus metrics (docs/metrics.md)")
    async def metrics(request: Request) -> Response:
        if token:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(
                    value.strip().encode(), token.encode()):
                raise HumancutError("unknown_key", "/metrics needs `Authorization: Bearer "
                                    "<admin token>` (the admin_token setting).",
                                    headers={"WWW-Authenticate": 'Bearer realm="humancut"'})
        return Response(telemetry.render(), media_type=CONTENT_TYPE_LATEST)

    return router
