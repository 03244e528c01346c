"""The request flow's own cost, model excluded: p50/p95 ms of a call through the real app
(authenticate, limits, upload, credit, store, result URL) with a runner that returns a fixed
small cut, for the embedded backends (SQLite + memory + files) and, when given, shared ones
(PostgreSQL + Redis + S3).

    humancut bench --flow --keys-url postgresql://... --limits-url redis://... \\
        --results-url s3://bucket/bench --s3-endpoint-url http://127.0.0.1:9000
"""

from __future__ import annotations

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


def measure(settings: Settings, requests: int = 200, warmup: int = 20) -> dict[str, float]:
    """p50 and p95 ms of `requests` sequential calls to a server on a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.replace(rate_per_minute=0, max_in_flight=8, sweep_interval=3600)
    secret = open_keys(settings).create("flowbench")[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runner=FixedRunner()),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    times: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):  # up to 30 s for start-up
                if server.started:
                    break
                time.sleep(0.1)
            photo = _image("JPEG")
            for i in range(warmup + requests):
                started = time.perf_counter()
                r = client.post(ROUTE, headers={"ailabapi-api-key": secret},
                                files={"image": ("p.jpg", photo, "image/jpeg")})
                if r.status_code != 200:
                    raise RuntimeError(f"flowbench call failed: {r.status_code} {r.text[:300]}")
                if i >= warmup:
                    times.append((time.perf_counter() - started) * 1000)
    finally:
        server.should_exit = True
        thread.join(30)
    q = statistics.quantiles(times, n=100)
    return {"p50": statistics.median(times), "p95": q[94], "requests": len(times)}


def run(shared: Settings | None = None, requests: int = 200) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="humancut-flowbench-") as tmp:
        report = {"SQLite + memory + files": measure(Settings(data_dir=Path(tmp)), requests)}
        if shared is not None:
            report["PostgreSQL + Redis + S3"] = measure(shared.replace(data_dir=Path(tmp)),
                                                        requests)
    return report


def render(report: dict[str, dict[str, float]]) -> str:
    lines = ["| backends | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {name} | {r['p50']:.1f} | {r['p95']:.1f} |" for name, r in report.items()]
    return "\n".join(lines)
