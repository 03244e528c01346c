"""Load on one server: a bounded asyncio client per concurrency level, the warm-up, the
soak, and the per-server result of the report."""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..settings import MB
from .photos import ImageGroup, size_label
from .process import RssSampler, tree_cpu, tree_rss
from .servers import BenchServer, HumancutServer

SOAK_WARMUP = 50
SOAK_CONCURRENCY = 2

Say = Callable[[str], None]
Images = Sequence[tuple[str, bytes]]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def _load(server: BenchServer, images: Images, n: int,
                concurrency: int) -> tuple[list[tuple[float, float]], list[str], float]:
    """n requests, images round-robin, `concurrency` workers sharing one counter; the
    (answered, total) latencies, the errors and the wall time."""
    import httpx

    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        async def worker() -> None:
            for i in counter:
                name, data = images[i % len(images)]
                try:
                    answered, total, _ = await server.call(client, name, data)
                    latencies.append((answered, total))
                except Exception as exc:  # counted and reported, never fatal
                    errors.append(f"{name}: {exc}")

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return latencies, errors, wall


def run_level(server: BenchServer, sampler: RssSampler, images: Images, n: int,
              concurrency: int) -> dict[str, Any]:
    sampler.reset()
    cpu0 = tree_cpu(server.pid)
    latencies, errors, wall = asyncio.run(_load(server, images, n, concurrency))
    cpu = tree_cpu(server.pid) - cpu0
    ok = len(latencies)
    total = [t for _, t in latencies]
    answered = [a for a, _ in latencies]
    return {
        "concurrency": concurrency, "requests": n, "ok": ok, "errors": len(errors),
        "error_samples": errors[:3],
        "p50_ms": percentile(total, 50) * 1000, "p95_ms": percentile(total, 95) * 1000,
        "mean_ms": statistics.fmean(total) * 1000 if total else float("nan"),
        "answer_p50_ms": percentile(answered, 50) * 1000,
        "throughput_ips": ok / wall if wall > 0 else float("nan"),
        "wall_s": wall,
        "cpu_s_per_image": cpu / ok if ok else float("nan"),
        "peak_rss_mb": sampler.read_peak() / MB,
    }


def warm_up(server: BenchServer, groups: list[ImageGroup], say: Say) -> None:
    """Each image once (at least 3 requests per group); drops images the server refuses
    (e.g. no person found) so the timed runs measure successes only."""
    for g in groups:
        kept = []
        for name, data in g.images:
            _, errors, _ = asyncio.run(_load(server, [(name, data)], 1, 1))
            if errors:
                say(f"  {server.name}: {g.label}/{name} refused in warm-up, left out: "
                    f"{errors[0][:160]}")
            else:
                kept.append((name, data))
        if not kept:
            raise RuntimeError(f"{server.name} refused every image of {g.label}")
        if len(kept) != len(g.images):
            g.sizes = [s for (n, _), s in zip(g.images, g.sizes, strict=True)
                       if n in {k for k, _ in kept}]
            g.images = kept
        if len(g.images) < 3:
            asyncio.run(_load(server, g.images, 3 - len(g.images), 1))


def soak(server: HumancutServer, sampler: RssSampler, images: Images, n: int,
         concurrency: int, say: Say) -> dict[str, Any]:
    """RSS after a warm-up against RSS after n more requests: growth means a leak."""
    say(f"  soak: {SOAK_WARMUP} warm-up + {n} requests at concurrency {concurrency} ...")
    asyncio.run(_load(server, images, SOAK_WARMUP, concurrency))
    time.sleep(0.5)  # let the last answers' buffers go before reading RSS
    after_warmup = tree_rss(server.pid)
    sampler.reset()
    level = run_level(server, sampler, images, n, concurrency)
    time.sleep(0.5)
    end = tree_rss(server.pid)
    return {"requests": n, "warmup": SOAK_WARMUP, "concurrency": concurrency,
            "ok": level["ok"], "errors": level["errors"],
            "rss_after_warmup_mb": after_warmup / MB, "rss_end_mb": end / MB,
            "peak_rss_mb": level["peak_rss_mb"],
            "rss_growth_pct": (end - after_warmup) / after_warmup * 100,
            "throughput_ips": level["throughput_ips"], "p50_ms": level["p50_ms"],
            "p95_ms": level["p95_ms"]}


def _level_line(server: BenchServer, label: str, c: int, lv: dict[str, Any]) -> str:
    errors = f"  errors {lv['errors']}" if lv["errors"] else ""
    return (f"  {server.name:8} {label:9} c={c}: p50 {lv['p50_ms']:7.0f} ms  "
            f"p95 {lv['p95_ms']:7.0f} ms  {lv['throughput_ips']:6.2f} img/s  "
            f"peak {lv['peak_rss_mb']:5.0f} MB{errors}")


def _groups(server: BenchServer, sampler: RssSampler, groups: list[ImageGroup],
            levels: Sequence[int], n: int, say: Say,
            bare: Callable[[ImageGroup], dict[str, Any]] | None) -> dict[str, Any]:
    """Per group: the bare in-process time (measured right before the group's levels, while
    the server idles, so both see the same load from other processes), then each level."""
    out: dict[str, Any] = {}
    for g in groups:
        timed = bare(g) if bare else {}
        per_level = {}
        for c in levels:
            per_level[str(c)] = lv = run_level(server, sampler, g.images, n, c)
            say(_level_line(server, g.label, c, lv))
        out[g.label] = {"levels": per_level, **timed}
    return out


def bench_server(server: BenchServer, groups: list[ImageGroup], levels: Sequence[int], n: int,
                 soak_n: int, say: Say,
                 bare: Callable[[ImageGroup], dict[str, Any]] | None = None,
                 quality: Callable[[BenchServer], dict[str, Any]] | None = None
                 ) -> dict[str, Any]:
    """Start the server, warm up, measure every group at every level, then (humancut only)
    the soak on the 1 MP images, and `quality` (the labelled sets through the server); the
    server is stopped whatever happens."""
    server.start()
    sampler = RssSampler(server.pid)
    try:
        idle = tree_rss(server.pid)
        say(f"{server.name} {server.version}: pid {server.pid}, {server.url}, "
            f"idle RSS {idle / MB:.0f} MB; warming up ...")
        warm_up(server, groups, say)
        result: dict[str, Any] = {"version": server.version, "idle_rss_mb": idle / MB,
                                  "after_warmup_rss_mb": tree_rss(server.pid) / MB}
        result["groups"] = _groups(server, sampler, groups, levels, n, say, bare)
        if soak_n and isinstance(server, HumancutServer):
            one_mp = next((g for g in groups if g.label == size_label(1.0)), groups[0])
            result["soak"] = soak(server, sampler, one_mp.images, soak_n, SOAK_CONCURRENCY,
                                  say)
            result["soak"]["images"] = one_mp.label
        if quality:
            say(f"  {server.name}: quality on the labelled sets ...")
            result["quality"] = quality(server)
        result["peak_rss_mb"] = max(lv["peak_rss_mb"] for g in result["groups"].values()
                                    for lv in g["levels"].values())
        return result
    finally:
        sampler.stop()
        server.stop()
