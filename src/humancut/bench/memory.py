"""`humancut bench memory`: the peak RSS of a real server on large photos.

A 36 MP photo (the astronaut enlarged to 5990x5990 with noise, a JPEG) is posted once to the
AILabTools HD route and once to remove.bg's route with `size=full`, each alone (one worker
busy: the per-worker figure), then `calls` HD calls at once against `workers` workers (the
whole server's figure). RSS is the server's process tree, sampled every 50 ms.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..api.ailab import HD_ROUTE
from ..settings import MB
from .photos import ASTRONAUT
from .process import RssSampler, tree_rss
from .servers import HumancutServer

REMOVEBG_ROUTE = "/v1.0/removebg"
# Measured on main before the lean path (docs/performance.md#memory-on-large-photos), on the
# shared 2-core development machine: the numbers the report shows as "before".
BEFORE = {"hd_peak_mb": 1381.0, "removebg_full_peak_mb": 1317.0, "concurrent_peak_mb": 2619.0,
          "hd_seconds": 4.31, "removebg_full_seconds": 4.68}

Say = Callable[[str], None]


def large_jpeg(side: int = 5990, noise: float = 6.0, quality: int = 90, seed: int = 0) -> bytes:
    """The astronaut enlarged to side x side (bicubic) with Gaussian noise, as a JPEG: a
    camera-like 36 MP photo (noise keeps the JPEG as large as a real one)."""
    with ASTRONAUT.open("rb") as f, Image.open(f) as src:
        big = np.asarray(src.convert("RGB").resize((side, side), Image.Resampling.BICUBIC))
    rng = np.random.default_rng(seed)
    out = np.empty_like(big)
    step = 512  # rows at a time: the client's own memory stays small
    for top in range(0, side, step):
        band = big[top:top + step].astype(np.int16)
        band += rng.normal(0, noise, band.shape).astype(np.int16)
        out[top:top + step] = np.clip(band, 0, 255)
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


async def _hd(client: Any, *, server: HumancutServer, data: bytes) -> float:
    t0 = time.perf_counter()
    r = await client.post(server.url + HD_ROUTE, headers={"ailabapi-api-key": server.key},
                          files={"image": ("large.jpg", data, "image/jpeg")})
    body = r.json()
    if r.status_code != 200 or body.get("error_code") != 0:
        raise RuntimeError(f"HD route answered {r.status_code}: {body.get('error_msg')}")
    got = await client.get(body["data"]["elements"][0]["image_url"])
    if got.status_code != 200 or not got.content.startswith(b"\x89PNG"):
        raise RuntimeError(f"HD result fetch answered {got.status_code}")
    return time.perf_counter() - t0


async def _removebg(client: Any, *, server: HumancutServer, data: bytes) -> float:
    t0 = time.perf_counter()
    r = await client.post(server.url + REMOVEBG_ROUTE, headers={"X-Api-Key": server.key},
                          data={"size": "full"},
                          files={"image_file": ("large.jpg", data, "image/jpeg")})
    if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
        raise RuntimeError(f"remove.bg route answered {r.status_code}: {r.text[:200]}")
    return time.perf_counter() - t0


def _timed(sampler: RssSampler, calls: int, call: Callable[[Any], Any]) -> tuple[float, float]:
    """(peak RSS in MB while `calls` of `call` run at once, mean seconds per call)."""
    import httpx

    async def go() -> list[float]:
        async with httpx.AsyncClient(timeout=600) as client:
            return list(await asyncio.gather(*(call(client) for _ in range(calls))))

    time.sleep(1.0)  # let the last call's buffers go
    sampler.reset()
    seconds = asyncio.run(go())
    return sampler.read_peak() / MB, statistics.fmean(seconds)


def _server(work: Path, device: str, workers: int, calls: int,
            env: dict[str, str]) -> HumancutServer:
    server = HumancutServer(work, device)
    server.env.update({"HUMANCUT_WORKERS": str(workers),
                       "HUMANCUT_QUEUE_SIZE": str(max(16, calls)),
                       "HUMANCUT_REQUEST_TIMEOUT": "600"} | env)
    return server


def run(*, workers: int = 2, calls: int = 8, repeats: int = 2, side: int = 5990,
        device: str = "cpu", say: Say | None = None,
        before_src: Path | None = None) -> dict[str, Any]:
    """The figures of the memory bench (MB and seconds); `repeats` single calls of each
    route, the lowest time and the highest peak kept. `before_src`: another checkout's
    src/ (main's, say) is measured the same way, then single calls alternate between the
    two servers, so both times are taken under the same load."""
    say = say or print
    data = large_jpeg(side)
    say(f"photo: {side}x{side} JPEG, {len(data) / MB:.1f} MB")
    sides = {"before": {"PYTHONPATH": str(before_src)}} if before_src else {}
    sides["now"] = {}
    measured: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="humancut-bench-memory-") as tmp:
        servers = {name: _server(Path(tmp), device, workers, calls, env)
                   for name, env in sides.items()}
        try:
            for name, server in servers.items():
                say(f"{name}:")
                server.start()
                sampler = RssSampler(server.pid)
                try:
                    measured[name] = _measure(server, sampler, data, workers=workers,
                                              calls=calls, repeats=repeats, say=say)
                finally:
                    sampler.stop()
            if before_src:
                _alternate(servers, measured, data, repeats, say)
        finally:
            for server in servers.values():
                server.stop()
    out = measured["now"]
    out.update(side=side, jpeg_mb=len(data) / MB, workers=workers, calls=calls,
               before=measured.get("before", BEFORE))
    return out


def _alternate(servers: dict[str, HumancutServer], measured: dict[str, dict[str, Any]],
               data: bytes, repeats: int, say: Say) -> None:
    """Single calls taking turns between the servers; each one's best time per route."""
    import httpx

    async def once(call: Callable[..., Any], server: HumancutServer) -> float:
        async with httpx.AsyncClient(timeout=600) as client:
            return float(await call(client, server=server, data=data))

    for route, call in (("hd", _hd), ("removebg_full", _removebg)):
        for _ in range(repeats + 1):
            for name, server in servers.items():
                seconds = asyncio.run(once(call, server))
                key = f"{route}_seconds"
                measured[name][key] = min(measured[name].get(key, seconds), seconds)
        say(f"  taking turns, {route}: " + ", ".join(
            f"{n} {m[f'{route}_seconds']:.2f} s" for n, m in measured.items()))


def _measure(server: HumancutServer, sampler: RssSampler, data: bytes, *, workers: int,
             calls: int, repeats: int, say: Say) -> dict[str, Any]:
    idle = tree_rss(server.pid) / MB
    say(f"server pid {server.pid}, workers {workers}: idle RSS {idle:.0f} MB")
    hd = partial(_hd, server=server, data=data)
    _timed(sampler, 1, hd)  # warm-up: the model's first run
    out: dict[str, Any] = {"idle_rss_mb": idle}
    calls_of: dict[str, Callable[..., Any]] = {
        "hd": _hd, "removebg_full": _removebg}
    for name, call in calls_of.items():
        runs = [_timed(sampler, 1, partial(call, server=server, data=data))
                for _ in range(repeats)]
        out[f"{name}_peak_mb"] = max(p for p, _ in runs)
        out[f"{name}_seconds"] = min(s for _, s in runs)
        say(f"  {name}: peak {out[f'{name}_peak_mb']:.0f} MB, "
            f"{out[f'{name}_seconds']:.2f} s per call")
    peak, seconds = _timed(sampler, calls, hd)
    out["concurrent_peak_mb"], out["concurrent_mean_seconds"] = peak, seconds
    say(f"  {calls} HD calls at once: peak {peak:.0f} MB, {seconds:.2f} s mean latency")
    out["rss_after_mb"] = tree_rss(server.pid) / MB
    return out


def render(report: dict[str, Any]) -> str:
    """The before/after table (before: main's figures, measured once, documented)."""
    before = report["before"]
    rows = [("HD route, one call: peak RSS (MB)", "hd_peak_mb", 600),
            ("remove.bg size=full, one call: peak RSS (MB)", "removebg_full_peak_mb", 600),
            (f"{report['calls']} HD calls at once, workers={report['workers']}: "
             "peak RSS (MB)", "concurrent_peak_mb", 1600),
            ("HD route, one call: seconds", "hd_seconds", None),
            ("remove.bg size=full, one call: seconds", "removebg_full_seconds", None)]
    lines = [f"{report['side']}x{report['side']} JPEG ({report['jpeg_mb']:.1f} MB); "
             f"server idle RSS {report['idle_rss_mb']:.0f} MB",
             f"{'':58} {'before':>8} {'now':>8} {'target':>8}"]
    for label, field, target in rows:
        b = before.get(field) or float("nan")
        limit = f"{target}" if target else f"{b * 1.1:.2f}"
        lines.append(f"{label:58} {b:8.2f} {report[field]:8.2f} {limit:>8}")
    return "\n".join(lines)
