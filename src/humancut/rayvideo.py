"""A clip's chunks as Ray tasks across the cluster (`serve --ray`; issue 28, item 4).

The same chunks as on one machine (video/chunks.py: keyframe cuts, each chunk's state warmed
on the frames before it), one per slot of the cluster: a slot is `ray_num_cpus` CPUs of an
alive node, and the slots are dealt out node by node in turn, so two chunks land on two
nodes. The clip's bytes go into the object store once (the upload lives on the ingress's
disk only); each task writes them to a temporary file on its node, mattes its chunk and
yields every alpha frame deflated (video.chunks.pack: ~30x smaller) as it goes. The caller
(remove_video on the ingress, which decodes the colours, audio and timestamps itself) reads
chunk 0's stream, then chunk 1's..., so the encoder gets the alphas in order while the
tasks run ahead.

The tasks reserve no CPU (`num_cpus=0`): the model replicas hold the nodes' CPUs, and a
chunk shares them with photo calls the way the plain server's video threads share the
cores with its photo workers; without that, a clip would wait for a replica to go.
A task that fails (its node died) fails the clip: the task ends with its credits back.
Needs humancut[ray]."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from .raycluster import replica_settings
from .settings import Settings
from .video import ClipInfo, video_session
from .video import chunks as local

TASK = "humancut_video_chunk"  # the tasks' name in Ray's state API and dashboard


def slots(ray_num_cpus: float, nodes: list[dict[str, Any]]) -> list[str]:
    """Node ids, one per slot of `ray_num_cpus` CPUs of each alive node, dealt out one
    node at a time (a, b, a, b, a...)."""
    per = max(ray_num_cpus, 1e-3)
    counts = {n["NodeID"]: int(n["Resources"].get("CPU", 0) // per)
              for n in nodes if n.get("Alive")}
    dealt: list[str] = []
    for turn in range(max(counts.values(), default=0)):
        dealt += [node for node, count in counts.items() if count > turn]
    return dealt


def ray_chunked_alphas(path: Path, info: ClipInfo, settings: Settings
                       ) -> Iterator[np.ndarray] | None:
    """uint8 HxW alpha per frame of `path` from Ray tasks, or None when chunks do not pay
    (a short clip, one slot, too few keyframes): then the caller mattes it itself."""
    nodes = slots(settings.ray_num_cpus, ray.nodes())
    planned = local.plan_for(path, info, settings, len(nodes))
    if planned is None:
        return None
    chunks, order = planned
    return _alphas(path, chunks, order, nodes, replica_settings(settings))


def _alphas(path: Path, plan: list[local.Chunk], order: list[int], nodes: list[str],
            settings: Settings) -> Iterator[np.ndarray]:
    clip = ray.put(path.read_bytes())
    streams: list[Any] = [_chunk.options(  # ObjectRefGenerators: streamed as they come
        name=TASK, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
    ).remote(clip, chunk, order, settings) for chunk, node in zip(plan, nodes, strict=False)]
    try:
        for i, (chunk, stream) in enumerate(zip(plan, streams, strict=True)):
            n = 0
            for ref in stream:
                n += 1
                yield local.unpack(ray.get(ref))
            if n != chunk.stop - chunk.start:
                raise RuntimeError(f"chunk {i} gave {n} frames, not {chunk.stop - chunk.start}")
    finally:
        for stream in streams:  # the caller stopped early (an error, a shutdown): stop them
            try:
                ray.cancel(stream)
            except Exception:  # noqa: BLE001 - already finished
                pass


@functools.lru_cache(maxsize=1)
def _session(settings: Settings) -> Any:
    """One RVM session per Ray worker process (Ray reuses a worker for later tasks)."""
    return video_session(settings)


@ray.remote(num_cpus=0, max_retries=0)
def _chunk(clip: bytes, chunk: local.Chunk, order: list[int],
           settings: Settings) -> Iterator[bytes]:
    fd, name = tempfile.mkstemp(prefix="humancut-chunk-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(clip)
        del clip
        for alpha in local.matte_chunk(name, chunk, order, settings, _session(settings)):
            yield local.pack(alpha)
    finally:
        os.unlink(name)
