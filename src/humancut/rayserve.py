"""humancut as a Ray Serve application, composed above the API and the runner: the `Model`
deployment (one Remover, so one onnxruntime session, per replica) and the `Ingress`
deployment, which runs the same FastAPI app as `humancut serve` with a RayRunner to the Model
in it and clips' chunks sent to Ray tasks (rayvideo.py); the two never import each other,
`build_app(settings)` binds them. `app_builder` is the import path a Serve config names
(deploy/ray-serve.yaml); `serve_forever` is `humancut serve --ray`. Needs humancut[ray], and
Ray's environment set before this module is imported (raycluster.connect first)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import ray
from ray import serve
from ray.serve.handle import DeploymentHandle

from .api import create_app
from .job import Cut, Job
from .raycluster import connect, keep_replica_on_loopback, replica_settings
from .rayvideo import ray_chunked_alphas
from .remover import Remover
from .runner.ray import APP, RayRunner
from .settings import Settings

# The ingress only awaits the model and the stores; its own queue is not the bound, the
# model deployment's max_queued_requests is (so the client gets our 503, not Ray's).
INGRESS_MAX_ONGOING = 256
# The ingress replicas live on the head node, beside the HTTP proxy (proxy_location
# HeadOnly): an ingress on a worker node that dies takes its calls with it, answered by the
# proxy's plain 500 and with their reserved credits never given back. Ray gives the head
# node this resource; the model replicas go anywhere.
ON_HEAD = {"node:__internal_head__": 0.001}


@serve.deployment(name="Model")
class Model:
    def __init__(self, settings: Settings):
        keep_replica_on_loopback()
        self.remover = Remover(replica_settings(settings))
        self.remover.model  # load before the replica takes traffic  # noqa: B018

    def __call__(self, job: Job) -> Cut:
        # A sync method: Serve runs it in a thread, onnxruntime releases the GIL.
        return self.remover.run(job)


@serve.deployment(name="Ingress")
@serve.ingress()
class Ingress:
    def __init__(self, settings: Settings, model: DeploymentHandle):
        keep_replica_on_loopback()
        self.settings, self.model = settings, model

    def __serve_build_asgi_app__(self) -> Any:
        runner = RayRunner(self.model, timeout=self.settings.request_timeout)
        return create_app(self.settings, runner=runner, video_alphas=ray_chunked_alphas)


def build_app(settings: Settings) -> serve.Application:
    """The Serve application: Ingress -> Model, sized and bounded by the settings."""
    s = settings.replace(data_dir=Path(settings.data_dir).resolve(),  # replicas' cwd differs
                         video_upload_dir=settings.video_upload_dir and
                         Path(settings.video_upload_dir).resolve())
    # @serve.deployment made Model and Ingress Deployments; mypy ignores class decorators.
    model = Model.options(  # type: ignore[attr-defined]
        ray_actor_options={"num_cpus": s.ray_num_cpus},
        max_ongoing_requests=s.workers, max_queued_requests=s.queue_size,
        autoscaling_config={"min_replicas": s.ray_min_replicas,
                            "max_replicas": max(s.ray_min_replicas, s.ray_max_replicas),
                            "target_ongoing_requests": s.ray_target_ongoing},
    ).bind(s)
    return Ingress.options(  # type: ignore[attr-defined]
        num_replicas=s.ray_ingress_replicas,
        ray_actor_options={"num_cpus": 0, "resources": ON_HEAD},
        max_ongoing_requests=INGRESS_MAX_ONGOING).bind(s, model)


def app_builder(args: dict[str, Any]) -> serve.Application:
    """For `serve deploy`/`serve run` configs: `args` are setting names (data_dir, workers,
    ray_max_replicas...) over the HUMANCUT_* variables of the replicas' environment."""
    env = {**os.environ, **{f"HUMANCUT_{k.upper()}": str(v) for k, v in (args or {}).items()}}
    return build_app(Settings.from_env(env))


def serve_forever(settings: Settings) -> int:
    """Deploy the humancut app on Serve (HTTP on settings.host:port) and wait for Ctrl-C or
    SIGTERM; then remove Serve from the cluster and disconnect (stopping a Ray started
    here)."""
    connect(settings)  # a no-op when the caller connected first (as `serve --ray` does)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        serve.start(http_options={"host": settings.host, "port": settings.port},
                    proxy_location="HeadOnly")
        serve.run(build_app(settings), name=APP, route_prefix="/")
        print(f"humancut: serving on http://{settings.host}:{settings.port}/ (Ray Serve, "
              f"{settings.ray_min_replicas}-{settings.ray_max_replicas} model replicas)",
              file=sys.stderr, flush=True)
        stop.wait()
    finally:
        print("humancut: stopping Ray Serve", file=sys.stderr, flush=True)
        serve.shutdown()  # Serve's actors are detached: they would outlive this process
        ray.shutdown()
        print("humancut: stopped", file=sys.stderr, flush=True)
    return 0
