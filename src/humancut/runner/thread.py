"""Runs the pipeline in a bounded thread pool of this process (onnxruntime releases the GIL)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from ..job import Cut, Job
from ..remover import Remover
from .base import Runner, busy


class ThreadRunner(Runner):
    """At most `workers` images in flight and `queue_size` waiting; beyond that the
    request is refused at once as `busy` (503, Retry-After)."""

    def __init__(self, remover: Remover, *, workers: int, queue_size: int, timeout: float):
        super().__init__(timeout=timeout)
        self.remover = remover
        self.workers, self.capacity = workers, workers + queue_size
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="humancut")
        self._in_system = 0  # running + waiting; only touched on the event loop

    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, lambda: self.remover.model)

    @property
    def ready(self) -> bool:
        return self.remover.loaded

    @property
    def load(self) -> int:
        return self._in_system

    @property
    def queued(self) -> int:
        return max(0, self._in_system - self.workers)

    async def _run(self, job: Job) -> Cut:
        if self._in_system >= self.capacity:
            raise busy()
        self._in_system += 1
        future = asyncio.get_running_loop().run_in_executor(self._pool, self.remover.run, job)

        def release(_: object) -> None:
            self._in_system -= 1  # only when the thread is really done, even after a timeout

        future.add_done_callback(release)
        # Shielded: a timeout gives up waiting, but the thread's work cannot be interrupted.
        return await asyncio.shield(future)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
