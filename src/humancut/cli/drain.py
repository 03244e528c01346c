"""`humancut serve`'s uvicorn server, with a drain on SIGTERM for rolling restarts behind a
load balancer (docs/deploy.md#rolling-restarts)."""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import uvicorn


class DrainingServer(uvicorn.Server):
    """uvicorn with a drain for rolling restarts (docs/deploy.md#rolling-restarts). On
    SIGTERM, /readyz answers 503 at once (`state.draining`) while calls are still taken for
    `drain` seconds, long enough for a load balancer's health check to take the server out;
    then, as uvicorn does at once without a drain, the listener closes, the calls in flight
    finish and the process exits 0. Ctrl-C, or a second SIGTERM, skips what is left of the
    drain."""

    def __init__(self, config: uvicorn.Config, state: Any, drain: float):
        super().__init__(config)
        self.state, self.drain = state, drain
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.state.draining = True
        if sig == signal.SIGTERM and self.drain > 0 and self.drain_until is None:
            self.drain_until = time.monotonic() + self.drain
            print(f"humancut: SIGTERM: /readyz answers 503; still taking calls for "
                  f"{self.drain:g} s, then finishing those in flight", file=sys.stderr,
                  flush=True)
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self.should_exit = True
        return await super().on_tick(counter)
