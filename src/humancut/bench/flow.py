"""The request flow's own cost, model excluded: p50/p95 ms of a call through the real app
(authenticate, limits, upload, credit, store, result URL) with a runner that returns a fixed
small cut, for the embedded backends (SQLite + memory + files) and, when given, shared ones
(PostgreSQL + Redis + S3), and what the shared ones add. Both servers run at once and take
their calls in turn, so a loaded machine weighs on both alike.

    humancut bench --flow --keys-url postgresql://... --limits-url redis://... \\
        --results-url s3://bucket/bench --s3-endpoint-url http://127.0.0.1:9000
"""

from __future__ import annotations

import contextlib
import io
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from PIL import Image

from ..api import ROUTE, create_app
from ..job import Cut, Job
from ..runner import Runner
from ..settings import Settings
from ..store import open_keys


class FixedRunner(Runner):
    """Answers every job with the same 8x8 PNG at once."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.fixed = Cut(_image("PNG"), 8, 8)

    async def _run(self, job: Job) -> Cut:
        return self.fixed


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 120, 90)).save(buf, format=fmt)
    return buf.getvalue()


class FlowServer:
    """The real app with a FixedRunner on a free loopback port, in a thread, and a key."""

    def __init__(self, settings: Settings):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        settings = settings.replace(rate_per_minute=0, max_in_flight=8, sweep_interval=3600)
        self.secret = open_keys(settings).create("flowbench")[1]
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(settings, runner=FixedRunner()), host="127.0.0.1", port=self.port,
            log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.times: list[float] = []

    def __enter__(self) -> FlowServer:
        self.thread.start()
        for _ in range(300):  # up to 30 s for start-up
            if self.server.started:
                break
            time.sleep(0.1)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)

    def call(self, photo: bytes, keep: bool) -> None:
        started = time.perf_counter()
        r = self.client.post(ROUTE, headers={"ailabapi-api-key": self.secret},
                             files={"image": ("p.jpg", photo, "image/jpeg")})
        if r.status_code != 200:
            raise RuntimeError(f"flowbench call failed: {r.status_code} {r.text[:300]}")
        if keep:
            self.times.append((time.perf_counter() - started) * 1000)


def measure(configs: dict[str, Settings], requests: int = 200,
            warmup: int = 20) -> dict[str, dict[str, float]]:
    """p50 and p95 ms of `requests` sequential calls to each server, the servers' calls
    taken in turn (the order flipped every round) so that each sees the same load on the
    machine, which a measurement of one after the other does not."""
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(FlowServer(s)) for name, s in configs.items()}
        order, photo = list(servers.values()), _image("JPEG")
        for i in range(warmup + requests):
            for server in order if i % 2 else reversed(order):
                server.call(photo, keep=i >= warmup)
    report = {}
    for name, server in servers.items():
        q = statistics.quantiles(server.times, n=100)
        report[name] = {"p50": statistics.median(server.times), "p95": q[94],
                        "requests": len(server.times)}
    return report


EMBEDDED = "SQLite + memory + files"
NAMES = {"postgresql": "PostgreSQL", "postgres": "PostgreSQL", "sqlite": "SQLite",
         "redis": "Redis", "memory": "memory", "s3": "S3", "file": "files"}


def label(settings: Settings) -> str:
    """"PostgreSQL + Redis + S3": the backends the settings name (embedded where unset)."""
    from ..store import backend_url

    schemes = [backend_url(settings, s).split("://")[0]
               for s in ("keys_url", "limits_url", "results_url")]
    return " + ".join(NAMES.get(scheme, scheme) for scheme in schemes)


def run(shared: Settings | None = None, requests: int = 200) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="humancut-flowbench-") as tmp:
        configs = {EMBEDDED: Settings(data_dir=Path(tmp) / "embedded")}
        if shared is not None:
            configs[label(shared)] = shared.replace(data_dir=Path(tmp) / "shared")
        return measure(configs, requests)


def render(report: dict[str, dict[str, float]]) -> str:
    lines = ["| backends | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} |" for name, r in report.items()]
    shared = [name for name in report if name != EMBEDDED]
    if EMBEDDED in report and shared:
        more = {q: report[shared[0]][q] - report[EMBEDDED][q] for q in ("p50", "p95")}
        lines.append(f"| shared over embedded | {more['p50']:+.1f} | {more['p95']:+.1f} |")
    return "\n".join(lines)
