"""The Runner interface: where the CPU work of a request happens. The base class owns what
every runner needs (the time limit, the one `busy` answer, turning failures into
HumancutError); a runner implements `_run` (and optionally start/ready/close)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

from ..errors import HumancutError
from ..job import Cut, Job

log = logging.getLogger("humancut.runner")

RETRY_AFTER = 2  # seconds; the value docs/limits.md and docs/api.md give for a full queue


def busy() -> HumancutError:
    """The one `busy` answer of every runner whose queue is full (503, Retry-After)."""
    return HumancutError("busy", "The server is busy with other images; retry shortly.",
                         headers={"Retry-After": str(RETRY_AFTER)})


class Runner(ABC):
    def __init__(self, *, timeout: float):
        self.timeout = timeout

    async def cut(self, job: Job) -> Cut:
        """The cut-out, or HumancutError: the job's own problem (no person, undecodable, ...),
        `busy` when the runner refuses more work, `processing_failed` on a timeout or a
        crash."""
        try:
            return await asyncio.wait_for(self._run(job), self.timeout)
        except TimeoutError:
            raise HumancutError("processing_failed",
                                f"Processing took longer than {self.timeout:g} s.") from None
        except HumancutError:
            raise
        except Exception:
            log.exception("processing failed")
            raise HumancutError("processing_failed",
                                "The image could not be processed.") from None

    @abstractmethod
    async def _run(self, job: Job) -> Cut:
        """Do the job; cancelled when the time limit passes."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load what the runner needs (e.g. the model) before traffic arrives."""

    @property
    def ready(self) -> bool:
        return True

    @property
    def queued(self) -> int:
        """Jobs handed over and not yet being processed (humancut_queue_depth)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
