"""Runners: where the model runs, behind one small base class (base.py), chosen by the
`runner` setting. `thread` runs it in this process,
`ray` on a Ray Serve deployment (ray.py, humancut[ray])."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from ..remover import Remover
from ..settings import Settings
from .base import Runner
from .thread import ThreadRunner


def _thread(settings: Settings, remover: Remover | None) -> Runner:
    return ThreadRunner(remover or Remover(settings), workers=settings.workers,
                        queue_size=settings.queue_size, timeout=settings.request_timeout)


def _ray(settings: Settings, remover: Remover | None) -> Runner:
    """The Model deployment of a humancut Serve app already running on the cluster that
    `ray_address` names (`serve --ray` composes its own; humancut[ray])."""
    from ..raycluster import connect
    from .ray import RayRunner, model_handle

    connect(settings)
    return RayRunner(model_handle(), timeout=settings.request_timeout)


# name -> factory(settings, remover or None)
RUNNERS: dict[str, Callable[[Settings, Remover | None], Runner]] = {"thread": _thread,
                                                                     "ray": _ray}


def create_runner(settings: Settings, remover: Remover | None = None) -> Runner:
    try:
        factory = RUNNERS[settings.runner]
    except KeyError:
        raise ConfigError(f"HUMANCUT_RUNNER={settings.runner!r}: unknown runner (known: "
                          f"{', '.join(RUNNERS)})") from None
    return factory(settings, remover)


__all__ = ["RUNNERS", "Runner", "ThreadRunner", "create_runner"]
