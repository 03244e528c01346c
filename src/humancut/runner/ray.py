"""The `ray` runner: RayRunner sends each Job to the `Model` deployment of the humancut Serve
application (rayserve.py composes it) through a deployment handle, and maps Ray's errors to
ours. Needs humancut[ray]."""

from __future__ import annotations

from ray import serve
from ray.exceptions import RayTaskError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle

from ..errors import HumancutError
from ..job import Cut, Job
from .base import Runner, busy

APP = "humancut"  # the Serve application's name


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
        self._pending = 0  # sent to the Model deployment, not answered; on the event loop

    @property
    def queued(self) -> int:
        # Serve does not tell this ingress how many of them a replica has started.
        return self._pending

    async def _run(self, job: Job) -> Cut:
        self._pending += 1
        try:
            return await self.handle.remote(job)
        except BackPressureError:
            raise busy() from None
        except RayTaskError as exc:
            cause = original_error(exc)
            if isinstance(cause, HumancutError):
                raise cause from None
            raise
        finally:
            self._pending -= 1


def model_handle() -> DeploymentHandle:
    """The Model deployment of the humancut app on the cluster this process is connected to."""
    return serve.get_deployment_handle("Model", app_name=APP)
