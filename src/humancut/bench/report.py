"""The report: its machine description, the targets judged from it, and the table printed."""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from .photos import ImageGroup, size_label
from .rembg import REMBG_MODEL

ONE_MP = size_label(1.0)


def onnx_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def cpu_name() -> str:
    with suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def new_report(groups: Sequence[ImageGroup], *, providers: list[str], device: str,
               requests: int, concurrency: Sequence[int], soak_n: int,
               vs_rembg: bool) -> dict[str, Any]:
    """The report before any measurement: the machine, the settings and the images (the
    load average, since other work on the machine skews every figure)."""
    meta = {"started": now(), "host": platform.node(), "cpu_count": os.cpu_count(),
            "cpu": cpu_name(), "python": sys.version.split()[0], "loadavg_start": loadavg(),
            "providers": providers, "cuda_available": "CUDAExecutionProvider" in providers,
            "device": device, "requests": requests, "concurrency": list(concurrency),
            "soak": soak_n, "vs_rembg": vs_rembg,
            "rembg_model": REMBG_MODEL if vs_rembg else None,
            "latency": "request sent until the PNG is in the client's hands"}
    return {"meta": meta, "images": {g.label: g.describe() for g in groups}, "servers": {}}


def finish(report: dict[str, Any]) -> dict[str, Any]:
    """Stamps the end and judges the targets."""
    report["meta"]["loadavg_end"] = loadavg()
    report["meta"]["finished"] = now()
    report["targets"] = [{"name": t.name, "value": t.value, "limit": t.limit,
                          "passed": t.passed, "verdict": t.verdict} for t in targets(report)]
    return report


@dataclass
class Target:
    name: str
    value: float | None
    limit: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "SKIP" if self.passed is None else ("PASS" if self.passed else "FAIL")


def _level(server: dict[str, Any] | None, c: int) -> dict[str, Any] | None:
    """The 1 MP row of a server at concurrency c, None when not measured."""
    if not server:
        return None
    return server.get("groups", {}).get(ONE_MP, {}).get("levels", {}).get(str(c))


def _target(name: str, value: float | None, limit: str, ok: Any) -> Target:
    return Target(name, value, limit, None if value is None else bool(ok(value)))


def main_humancut(report: dict[str, Any]) -> dict[str, Any]:
    """The humancut server the targets judge: the only one, else the balanced preset's."""
    servers = report["servers"]
    named = [k for k in servers if k.startswith("humancut")]
    key = next((k for k in ("humancut", "humancut balanced") if k in servers),
               named[0] if named else None)
    return servers[key] if key else {}


# Throughput against rembg u2netp at c=4 that each preset aims at (issue "quality per
# CPU-second"); the server without a preset name is judged as balanced.
THROUGHPUT_AIMS = {"humancut fast": 4.0, "humancut balanced": 2.0, "humancut": 2.0}


def targets(report: dict[str, Any]) -> list[Target]:
    hc = main_humancut(report)
    rb = report["servers"].get("rembg")
    hc1, bare = _level(hc, 1), hc.get("groups", {}).get(ONE_MP, {}).get("bare_ms")
    hc4, rb4 = _level(hc, 4), _level(rb, 4)
    s = hc.get("soak")
    peaks = [grp["levels"]["8"]["peak_rss_mb"] for grp in hc.get("groups", {}).values()
             if "8" in grp["levels"]]
    return [
        _target("1 MP, c=1: end-to-end p50 / bare model+refinement <= 1.15",
                hc1["p50_ms"] / bare if hc1 and bare else None, "<= 1.15", lambda v: v <= 1.15),
        *_throughput_targets(report, rb4),
        _target("1 MP, c=4: humancut p95 / rembg p50 <= 1",
                hc4["p95_ms"] / rb4["p50_ms"] if hc4 and rb4 else None, "<= 1",
                lambda v: v <= 1),
        _target(f"RSS growth over the soak ({s['requests'] if s else 0} requests) <= 5 %",
                s["rss_growth_pct"] if s else None, "<= 5 %", lambda v: v <= 5),
        _target("humancut peak RSS at c=8 (any size) <= 600 MB",
                max(peaks) if peaks else None, "<= 600 MB", lambda v: v <= 600),
    ]


def _throughput_targets(report: dict[str, Any], rb4: dict[str, Any] | None) -> list[Target]:
    out = []
    for name, aim in THROUGHPUT_AIMS.items():
        if name in report["servers"]:
            hc4 = _level(report["servers"][name], 4)
            out.append(_target(
                f"1 MP, c=4: throughput {name} / rembg u2netp >= {aim:g}",
                hc4["throughput_ips"] / rb4["throughput_ips"] if hc4 and rb4 else None,
                f">= {aim:g}", lambda v, aim=aim: v >= aim))
    return out


def _fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _header(meta: dict[str, Any]) -> list[str]:
    return [
        f"humancut bench: {meta['cpu_count']} CPU cores ({meta['cpu']}), load average "
        f"{meta['loadavg_start']} at start, {meta['loadavg_end']} at end",
        f"onnxruntime providers: {', '.join(meta['providers'])}; CUDA "
        + ("available" if meta["cuda_available"] else "not available (CPU only)")
        + f"; humancut device {meta['device']}",
        f"{meta['requests']} requests per level; latency = request sent until the PNG is "
        "in hand (humancut: POST + GET image_url)",
        "",
    ]


def _rows(report: dict[str, Any], levels: Sequence[int]) -> list[list[str]]:
    """The table's cells, a header row first: one row per server and image group."""
    head = ["server", "images", "p50 c1", "p95 c1", "bare", "e2e/bare", "full in-proc"]
    head += [f"img/s c{c}" for c in levels]
    head += ["p95 c4" if 4 in levels else "", "cpu s/img", f"peak RSS c{max(levels)}"]
    rows = [head]
    for sname, server in report["servers"].items():
        for label, g in server["groups"].items():
            lv = g["levels"]
            first = lv[str(levels[0])]
            bare = g.get("bare_ms")
            row = [sname, label, _fmt(first["p50_ms"]), _fmt(first["p95_ms"]), _fmt(bare),
                   _fmt(first["p50_ms"] / bare if bare else None, ".2f"),
                   _fmt(g.get("inproc_full_ms"))]
            row += [_fmt(lv[str(c)]["throughput_ips"], ".2f") for c in levels]
            row += [_fmt(lv["4"]["p95_ms"]) if "4" in lv else "",
                    _fmt(first["cpu_s_per_image"], ".2f"),
                    _fmt(lv[str(max(levels))]["peak_rss_mb"])]
            rows.append(row)
    return rows


def _aligned(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell; text left, numbers right."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                      for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
            for r in rows]


def _memory(report: dict[str, Any]) -> list[str]:
    lines = []
    for sname, server in report["servers"].items():
        lines.append(f"{sname}: idle RSS {server['idle_rss_mb']:.0f} MB, after warm-up "
                     f"{server['after_warmup_rss_mb']:.0f} MB, peak {server['peak_rss_mb']:.0f} MB"
                     f" ({server['version']})")
        s = server.get("soak")
        if s:
            lines.append(f"{sname} soak: {s['requests']} requests ({s['images']}, c="
                         f"{s['concurrency']}, {s['errors']} errors) after {s['warmup']} warm-up:"
                         f" RSS {s['rss_after_warmup_mb']:.0f} -> {s['rss_end_mb']:.0f} MB "
                         f"({s['rss_growth_pct']:+.1f} %), peak {s['peak_rss_mb']:.0f} MB, "
                         f"{s['throughput_ips']:.2f} img/s")
    return lines


def render_table(report: dict[str, Any]) -> str:
    lines = _header(report["meta"])
    lines += _aligned(_rows(report, report["meta"]["concurrency"]))
    lines.append("(ms unless noted; bare = in-process decode + model + refinement, no HTTP, "
                 "no PNG; full in-proc adds render + PNG encode; cpu s/img at c1)")
    lines += _memory(report)
    lines += ["", "targets:"]
    lines += [f"  {t['verdict']:4}  {t['name']}: {_fmt(t['value'], '.2f')}"
              for t in report["targets"]]
    return "\n".join(lines)
