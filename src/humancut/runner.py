"""Model runners: where the CPU work of a request happens, behind one small base class.

`ThreadRunner` runs the pipeline in a bounded thread pool of this process (onnxruntime
releases the GIL). A runner for a cluster (Ray, a queue) implements the same `cut`.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

from .errors import HumancutError
from .remover import Cut, Remover

log = logging.getLogger("humancut.runner")


class Runner(ABC):
    @abstractmethod
    async def cut(self, data: bytes, form: str) -> Cut:
        """Encoded image in, PNG out; raises HumancutError with a contract code."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load what the runner needs (e.g. the model) before traffic arrives."""

    @property
    def ready(self) -> bool:
        return True

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class ThreadRunner(Runner):
    """At most `workers` images in flight and `queue_size` waiting; beyond that the
    request is refused at once with AI_SERVICE_FLOW_RESTRICTION (503, Retry-After)."""

    def __init__(self, remover: Remover, *, workers: int, queue_size: int, timeout: float,
                 max_side: int):
        self.remover = remover
        self.workers, self.capacity = workers, workers + queue_size
        self.timeout, self.max_side = timeout, max_side
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

    async def cut(self, data: bytes, form: str) -> Cut:
        if self._in_system >= self.capacity:
            raise HumancutError("AI_SERVICE_FLOW_RESTRICTION",
                                "The server is busy with other images; retry shortly.",
                                headers={"Retry-After": "2"})
        self._in_system += 1
        future = asyncio.get_running_loop().run_in_executor(self._pool, self._work, data, form)

        def release(_: object) -> None:
            self._in_system -= 1  # only when the thread is really done, even after a timeout

        future.add_done_callback(release)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            raise HumancutError("PROCESSING_FAILURE",
                                f"Processing took longer than {self.timeout:g} s.") from None
        except HumancutError:
            raise
        except Exception:
            log.exception("processing failed")
            raise HumancutError("PROCESSING_FAILURE",
                                "The image could not be processed.") from None

    def _work(self, data: bytes, form: str) -> Cut:
        return self.remover.cut(data, form, max_side=self.max_side)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
