"""`humancut bench soak`: a real server under mixed traffic for N minutes, sampled each
minute: RSS, open file descriptors and threads of its process tree, and the latency and
status of the calls that ended in that minute.

The traffic cycles through photos of 0.1 to 4 MP (JPEG, PNG, WebP), both API families
(the AILabTools routes with every return_form, the HD route; remove.bg's route with sizes,
formats, channels, crops and backgrounds) and a few bad inputs (truncated, a GIF, empty, no
person), each expecting its own answer. Targets (docs/performance.md#soak): RSS at the end
within 5 % of minute 3, descriptors and threads flat, p99 of the last minute within 1.25x
of minute 3's, no 5xx.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..api.ailab import HD_ROUTE, ROUTE
from ..settings import MB
from .load import percentile
from .photos import ASTRONAUT, scaled_jpeg
from .process import process_tree, tree_rss
from .servers import HumancutServer

REMOVEBG_ROUTE = "/v1.0/removebg"
REFERENCE_MINUTE = 3  # the targets compare against this minute (after the warm-up)
Say = Callable[[str], None]


@dataclass(frozen=True)
class Spec:
    """One kind of call: route family, fields, the photo, and the status it must get."""

    family: str  # ailab | hd | removebg
    name: str
    data: bytes
    fields: dict[str, str] = field(default_factory=dict)
    expect: int = 200


def _encoded(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def photos() -> list[tuple[str, bytes]]:
    """The astronaut at 0.1 to 4 MP, as JPEG, and two as PNG and WebP."""
    with ASTRONAUT.open("rb") as f, Image.open(f) as src:
        src.load()
        out = [(f"{mp:g}MP.jpg", scaled_jpeg(src, mp)[0]) for mp in (0.1, 0.5, 1.0, 2.0, 3.9)]
        small = src.convert("RGB").resize((400, 400))
        out += [("0.16MP.png", _encoded(small, "PNG")), ("0.16MP.webp", _encoded(small, "WEBP"))]
    return out


def bad_inputs() -> list[Spec]:
    """Calls that must be refused with a 4xx, never a 5xx."""
    jpeg = dict(photos()[:1])["0.1MP.jpg"]
    sky = np.broadcast_to(np.linspace(90, 230, 300, dtype=np.uint8)[:, None, None],
                          (300, 400, 3)).copy()
    return [Spec("ailab", "truncated.jpg", jpeg[:len(jpeg) // 3], expect=422),
            Spec("ailab", "anim.gif", b"GIF89a" + bytes(64), expect=415),
            Spec("removebg", "empty.jpg", b"", expect=400),
            Spec("ailab", "landscape.jpg", _encoded(Image.fromarray(sky), "JPEG"), expect=422)]


def specs() -> list[Spec]:
    """The cycle of calls: every photo through a rotating route and form, bad inputs among
    them (about one call in eight)."""
    forms = [("ailab", {}), ("ailab", {"return_form": "mask"}),
             ("ailab", {"return_form": "whiteBK"}), ("ailab", {"return_form": "crop"}),
             ("hd", {}), ("removebg", {"size": "preview"}), ("removebg", {"size": "full"}),
             ("removebg", {"format": "jpg", "bg_color": "336699"}),
             ("removebg", {"channels": "alpha", "size": "hd"}),
             ("removebg", {"crop": "true", "crop_margin": "10%", "format": "zip"})]
    out: list[Spec] = []
    bad = bad_inputs()
    for i, (name, data) in enumerate(photos() * 2):
        out.append(bad[i % len(bad)])
        for j in range(len(forms)):
            family, fields = forms[(i + j) % len(forms)]
            out.append(Spec(family, name, data, fields))
    return out


async def _call(client: Any, server: HumancutServer, spec: Spec) -> int:
    """The call and, for the AILabTools routes, the GET of its result: the status that
    counts (the first that is not 200)."""
    if spec.family == "removebg":
        r = await client.post(server.url + REMOVEBG_ROUTE, headers={"X-Api-Key": server.key},
                              data=spec.fields,
                              files={"image_file": (spec.name, spec.data, "image/jpeg")})
        return r.status_code
    route = HD_ROUTE if spec.family == "hd" else ROUTE
    r = await client.post(server.url + route, headers={"ailabapi-api-key": server.key},
                          data=spec.fields, files={"image": (spec.name, spec.data)})
    if r.status_code != 200:
        return r.status_code
    data = r.json()["data"]
    url = data["elements"][0]["image_url"] if spec.family == "hd" else data["image_url"]
    return (await client.get(url)).status_code


@dataclass
class Record:
    ended: float  # seconds since the start
    seconds: float
    status: int  # 0: no answer (a connection error)
    expected: bool


async def _traffic(server: HumancutServer, seconds: float, concurrency: int,
                   records: list[Record]) -> None:
    import httpx

    cycle, start = specs(), time.monotonic()
    counter = iter(range(1 << 62))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        async def worker() -> None:
            while time.monotonic() - start < seconds:
                spec = cycle[next(counter) % len(cycle)]
                t0 = time.monotonic()
                try:
                    status = await _call(client, server, spec)
                except Exception:  # noqa: BLE001 - a connection error counts as a failure
                    status = 0
                t1 = time.monotonic()
                records.append(Record(t1 - start, t1 - t0, status, status == spec.expect))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def tree_counts(pid: int) -> tuple[int, int]:
    """(open file descriptors, threads) of a process tree."""
    fds = threads = 0
    for p in process_tree(pid):
        with suppress(OSError):
            fds += len(os.listdir(f"/proc/{p}/fd"))
        with suppress(OSError), open(f"/proc/{p}/status") as f:
            threads += next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    return fds, threads


def _sample(pid: int, stop: threading.Event, interval: float, out: list[dict[str, float]],
            start: float) -> None:
    """Every `interval`: the median and peak RSS of samples taken each second within it
    (one reading would land on whatever call is in flight), and fds and threads."""
    step = min(1.0, interval / 5)
    seen: list[float] = []
    due = interval
    while not stop.wait(step):
        seen.append(tree_rss(pid) / MB)
        if time.monotonic() - start >= due:
            fds, threads = tree_counts(pid)
            out.append({"at": time.monotonic() - start, "rss_mb": statistics.median(seen),
                        "rss_peak_mb": max(seen), "fds": fds, "threads": threads})
            seen, due = [], due + interval


def rows(samples: list[dict[str, float]], records: list[Record],
         interval: float) -> list[dict[str, Any]]:
    """One row per interval: the samples within it, and the calls that ended within it."""
    out, begin = [], 0.0
    for i, sample in enumerate(samples, start=1):
        calls = [r for r in records if begin <= r.ended < sample["at"]]
        lat = [r.seconds for r in calls]
        out.append({"minute": round(i * interval / 60, 2), "calls": len(calls),
                    "ok": sum(r.status == 200 for r in calls),
                    "refused_4xx": sum(400 <= r.status < 500 for r in calls),
                    "failed_5xx": sum(r.status >= 500 for r in calls),
                    "no_answer": sum(r.status == 0 for r in calls),
                    "unexpected": sum(not r.expected for r in calls),
                    "p50_ms": percentile(lat, 50) * 1000, "p99_ms": percentile(lat, 99) * 1000,
                    "rss_mb": sample["rss_mb"], "rss_peak_mb": sample["rss_peak_mb"],
                    "fds": sample["fds"], "threads": sample["threads"]})
        begin = sample["at"]
    return out


def verdict(table: list[dict[str, Any]], reference: int = REFERENCE_MINUTE) -> dict[str, Any]:
    """The targets, against row `reference` (1-based; the first row when fewer)."""
    ref, last = table[min(reference, len(table)) - 1], table[-1]
    later = table[min(reference, len(table)) - 1:]
    growth = (last["rss_mb"] - ref["rss_mb"]) / ref["rss_mb"] * 100
    p99 = last["p99_ms"] / ref["p99_ms"] if ref["p99_ms"] > 0 else float("nan")
    fds = max(r["fds"] for r in later) - min(r["fds"] for r in later)
    threads = max(r["threads"] for r in later) - min(r["threads"] for r in later)
    failed = sum(r["failed_5xx"] + r["no_answer"] for r in table)
    return {"reference_row": table.index(ref) + 1, "rss_growth_pct": growth,
            "p99_ratio": p99, "fds_range": fds, "threads_range": threads,
            "failed_5xx_or_no_answer": failed,
            "unexpected": sum(r["unexpected"] for r in table),
            "met": abs(growth) <= 5 and p99 <= 1.25 and failed == 0}


def run(*, minutes: float, concurrency: int, interval: float = 60.0, device: str = "cpu",
        say: Say | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Start a server (workers as configured), send the traffic for `minutes`, sample every
    `interval` seconds; the table and the verdict."""
    say = say or print
    records: list[Record] = []
    samples: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="humancut-soak-") as tmp:
        server = HumancutServer(Path(tmp), device)
        server.env.update({"HUMANCUT_RATE_PER_MINUTE": "0", "HUMANCUT_MAX_IN_FLIGHT": "0",
                           "HUMANCUT_QUEUE_SIZE": str(max(16, 2 * concurrency)),
                           "HUMANCUT_RESULT_TTL": "120"} | (env or {}))
        server.start()
        stop, start = threading.Event(), time.monotonic()
        sampler = threading.Thread(target=_sample, name="soak-sampler", daemon=True,
                                   args=(server.pid, stop, interval, samples, start))
        try:
            say(f"soak: {minutes:g} min at concurrency {concurrency}, server pid {server.pid}")
            sampler.start()
            asyncio.run(_traffic(server, minutes * 60, concurrency, records))
            time.sleep(max(0.0, interval * (len(samples) + 1) - (time.monotonic() - start)))
        finally:
            stop.set()
            sampler.join(timeout=5)
            server.stop()
    table = rows(samples, records, interval)
    if not table:
        raise RuntimeError("the soak ended before its first sample: run it longer")
    return {"minutes": minutes, "concurrency": concurrency, "interval_s": interval,
            "calls": len(records), "table": table, "verdict": verdict(table)}


def render(report: dict[str, Any]) -> str:
    cols = ("minute", "calls", "ok", "refused_4xx", "failed_5xx", "no_answer", "p50_ms",
            "p99_ms", "rss_mb", "rss_peak_mb", "fds", "threads")
    lines = [" ".join(f"{c:>11}" for c in cols)]
    for row in report["table"]:
        lines.append(" ".join(f"{row[c]:>11.0f}" if isinstance(row[c], float) and c != "minute"
                              else f"{row[c]:>11}" for c in cols))
    v = report["verdict"]
    lines.append(f"against row {v['reference_row']}: RSS {v['rss_growth_pct']:+.1f} % "
                 f"(target within 5 %), p99 x{v['p99_ratio']:.2f} (target <= 1.25), "
                 f"fds range {v['fds_range']}, threads range {v['threads_range']}, "
                 f"5xx/no answer {v['failed_5xx_or_no_answer']} (target 0), "
                 f"unexpected statuses {v['unexpected']}: "
                 f"{'met' if v['met'] else 'NOT met'}")
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> Path:
    """RSS, descriptors and threads, and p50/p99 per minute (matplotlib, humancut[bench])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = report["table"]
    x = [r["minute"] for r in t]
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True)
    series = [("RSS (MB): median, peak", ["rss_mb", "rss_peak_mb"]), ("open fds", ["fds"]),
              ("threads", ["threads"]), ("latency (ms)", ["p50_ms", "p99_ms"])]
    for ax, (title, keys) in zip(axes.flat, series, strict=True):
        for k in keys:
            ax.plot(x, [r[k] for r in t], marker="o", label=k)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend()
    for ax in axes[1]:
        ax.set_xlabel("minute")
    fig.suptitle(f"humancut soak: {report['minutes']:g} min at concurrency "
                 f"{report['concurrency']}, {report['calls']} calls")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2))
