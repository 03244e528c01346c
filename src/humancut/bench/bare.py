"""humancut's in-process time on the bench's images: what the server adds is measured
against this (no HTTP, no queue)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from ..settings import Settings
from .photos import ImageGroup


def bare_humancut(groups: Sequence[ImageGroup], device: str, reps: int,
                  remover: Any = None) -> dict[str, Any]:
    """Median seconds per image of decode + model + refinement, and of the whole in-process
    pipeline (plus render and PNG encode), per group."""
    from ..remover import Remover

    remover = remover or Remover(Settings.from_env(device=device))
    remover.model  # noqa: B018 - load outside the timing

    def once(data: bytes) -> tuple[float, float]:
        ms = remover.cut(data, "rgba", max_side=remover.settings.max_side).timings
        bare = ms["decode_ms"] + ms["model_ms"]
        return bare / 1000, (bare + ms["encode_ms"]) / 1000

    return bare_times(groups, once, reps)


def bare_times(groups: Sequence[ImageGroup], once: Callable[[bytes], tuple[float, float]],
               reps: int) -> dict[str, Any]:
    """Per group, the mean over its images of the median of `reps` runs of `once` (after one
    untimed run each: first-call allocations of each shape)."""
    out: dict[str, Any] = {}
    for g in groups:
        for _, data in g.images:
            once(data)
        model, full = [], []
        for _, data in g.images:
            runs = [once(data) for _ in range(reps)]
            model.append(statistics.median(r[0] for r in runs))
            full.append(statistics.median(r[1] for r in runs))
        out[g.label] = {"bare_ms": statistics.fmean(model) * 1000,
                        "inproc_full_ms": statistics.fmean(full) * 1000}
    return out
