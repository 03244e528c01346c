"""The model on Ray Serve: RayRunner sends each Job to a `Model` deployment (one Remover, so
one onnxruntime session, per replica) through a deployment handle; the `Ingress` deployment
runs the same FastAPI app as `humancut serve` with a RayRunner in it. `build_app(settings)`
composes the two; `app_builder` is the import path a Serve config names
(deploy/ray-serve.yaml). Needs humancut[ray]."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from ..errors import HumancutError
from ..raycluster import keep_replica_on_loopback
from ..remover import Cut, Job, Remover
from ..settings import Settings
from .base import Runner

APP = "humancut"  # the Serve application's name
# The ingress only awaits the model and the stores; its own queue is not the bound, the
# model deployment's max_queued_requests is (so the client gets our 503, not Ray's).
INGRESS_MAX_ONGOING = 256
RETRY_AFTER = "2"


def original_error(exc: BaseException) -> BaseException:
    """The exception raised in the replica, out of Ray's RayTaskError wrapping."""
    while isinstance(exc, RayTaskError) and exc.cause is not None:
        exc = exc.cause
    return exc


class RayRunner(Runner):
    """Jobs go to the Model deployment; a full queue there is `busy`, the replica's own
    HumancutError comes back as itself, anything else (a replica that died) is left to the
    base class: `processing_failed`."""

    def __init__(self, handle: DeploymentHandle, *, timeout: float):
        super().__init__(timeout=timeout)
        self.handle = handle

    async def _run(self, job: Job) -> Cut:
        try:
            return await self.handle.remote(job)
        except BackPressureError:
            raise HumancutError("busy", "The server is busy with other images; retry shortly.",
                                headers={"Retry-After": RETRY_AFTER}) from None
        except RayTaskError as exc:
            cause = original_error(exc)
            if isinstance(cause, HumancutError):
                raise cause from None
            raise


def model_handle() -> DeploymentHandle:
    """The Model deployment of the humancut app on the cluster this process is connected to."""
    return serve.get_deployment_handle("Model", app_name=APP)


def replica_settings(settings: Settings) -> Settings:
    """onnxruntime threads: the replica's CPU share unless set (one per core of the whole
    machine would oversubscribe it as soon as there are two replicas)."""
    if settings.threads:
        return settings
    return settings.replace(threads=max(1, round(settings.ray_num_cpus)))


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
        from ..api import create_app

        runner = RayRunner(self.model, timeout=self.settings.request_timeout)
        return create_app(self.settings, runner=runner)


def build_app(settings: Settings) -> serve.Application:
    """The Serve application: Ingress -> Model, sized and bounded by the settings."""
    s = settings.replace(data_dir=Path(settings.data_dir).resolve())  # replicas' cwd differs
    model = Model.options(
        ray_actor_options={"num_cpus": s.ray_num_cpus},
        max_ongoing_requests=s.workers, max_queued_requests=s.queue_size,
        autoscaling_config={"min_replicas": s.ray_min_replicas,
                            "max_replicas": max(s.ray_min_replicas, s.ray_max_replicas),
                            "target_ongoing_requests": s.ray_target_ongoing},
    ).bind(s)
    return Ingress.options(num_replicas=s.ray_ingress_replicas, ray_actor_options={"num_cpus": 0},
                           max_ongoing_requests=INGRESS_MAX_ONGOING).bind(s, model)


def app_builder(args: dict[str, Any]) -> serve.Application:
    """For `serve deploy`/`serve run` configs: `args` are setting names (data_dir, workers,
    ray_max_replicas...) over the HUMANCUT_* variables of the replicas' environment."""
    env = {**os.environ, **{f"HUMANCUT_{k.upper()}": str(v) for k, v in (args or {}).items()}}
    return build_app(Settings.from_env(env))
