"""`humancut bench --ray`: the Ray Serve app against the plain server, and `cut --ray`
against the local batch, on the same machine, photos and CPUs (humancut[ray]).

Both servers get CPUS images at once with one onnxruntime thread each (the plain server
CPUS workers, the Ray app CPUS model replicas of one CPU), so the difference is Ray's own
cost: the overhead per request is the Ray app's p50 minus the plain server's at each level
(at concurrency 1 nothing queues, so it is Ray's path alone). The bulk rows time whole
`humancut cut` commands, process start, Ray start and model loads included, as a user
waits for them. Each Ray is started for its command, on loopback; or, with `ray_address`,
the Ray app and `cut --ray` join that cluster (a multi-node one: docs/ray.md)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..imageops import images_under
from .load import _load, percentile
from .photos import ASTRONAUT, spread
from .report import _aligned, cpu_name, now
from .servers import HumancutServer

DEFAULT_CONCURRENCY = (1, 4, 8)
CPUS = 2
PHOTOS = 8  # of --images, spread over the folder, for the servers
# Loopback only, no token auth, no usage stats, before any Ray process starts.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0"}
ONE_THREAD = ["--threads", "1"]
RAY_CUT = ["--ray", "--ray-cpus", str(CPUS), "--ray-num-cpus", "1",
           "--ray-max-replicas", str(CPUS), *ONE_THREAD]
SERVERS = {"plain": ["--workers", str(CPUS), *ONE_THREAD],
           "ray": [*RAY_CUT, "--ray-min-replicas", str(CPUS), "--workers", "1"]}
BULK = {"local": ["--threads", str(CPUS)], "ray": RAY_CUT}
Images = Sequence[tuple[str, bytes]]


def ray_env(joined: bool) -> dict[str, str]:
    """RAY_ENV; a cluster joined is left to bind what its nodes bind (not loopback)."""
    if not joined:
        return RAY_ENV
    return {k: v for k, v in RAY_ENV.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
Say = Callable[[str], None]


class _Server(HumancutServer):
    """A bench server with extra flags; a Ray app takes longer to start and to stop."""

    def __init__(self, work: Path, args: Sequence[str]):
        super().__init__(work, "cpu")
        self.extra_args += args
        env = ray_env(joined="--ray-address" in args)
        self.extra_env |= env
        self.env |= env
        self.ready_timeout = 240

    def __exit__(self, *exc: object) -> None:
        self.stop(timeout=60)


def level(server: HumancutServer, images: Images, n: int, c: int) -> dict[str, Any]:
    latencies, errors, wall = asyncio.run(_load(server, images, n, c))
    total = [t for _, t in latencies]
    return {"concurrency": c, "requests": n, "images_per_second": len(total) / wall,
            "p50_ms": percentile(total, 50) * 1000, "p95_ms": percentile(total, 95) * 1000,
            "errors": len(errors)}


def joining(args: Sequence[str], ray_address: str) -> list[str]:
    """A Ray command's flags, joining `ray_address` when set."""
    return [*args, "--ray-address", ray_address] if ray_address and "--ray" in args else [*args]


def serve_levels(work: Path, images: Images, n: int, levels: Sequence[int],
                 say: Say, ray_address: str = "") -> dict[str, list[dict[str, Any]]]:
    """Each server in turn (never both at once), warmed up, at every level."""
    results: dict[str, list[dict[str, Any]]] = {}
    for name, args in SERVERS.items():
        say(f"starting the {name} server ...")
        with _Server(work, joining(args, ray_address)) as server:
            asyncio.run(_load(server, images, len(images), CPUS))  # warm-up
            results[name] = [level(server, images, n, c) for c in levels]
        for lv in results[name]:
            say(f"{name:6} c={lv['concurrency']}: {lv['images_per_second']:5.2f} img/s  "
                f"p50 {lv['p50_ms']:6.0f} ms  p95 {lv['p95_ms']:6.0f} ms  "
                f"errors {lv['errors']}")
    return results


def overhead_ms(serve: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    """Per level: the Ray app's p50 minus the plain server's."""
    return {str(p["concurrency"]): r["p50_ms"] - p["p50_ms"]
            for p, r in zip(serve["plain"], serve["ray"], strict=True)}


def bulk(work: Path, photos: Path, say: Say,
         ray_address: str = "") -> dict[str, dict[str, Any]]:
    """`humancut cut photos -o out` locally and with --ray, timed from outside."""
    results = {}
    for name, plain_args in BULK.items():
        args = joining(plain_args, ray_address)
        out = work / f"bulk-{name}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "humancut.cli", "cut", str(photos),
                               "-o", str(out), "-q", *args], capture_output=True, text=True,
                              check=False,
                              env={**os.environ, **ray_env(joined="--ray-address" in args)})
        seconds = time.perf_counter() - t0
        count = len(list(out.rglob("*.png")))
        results[name] = {"images": count, "seconds": seconds,
                         "images_per_second": count / seconds, "exit": done.returncode}
        say(f"bulk {name:5}: {count} images in {seconds:5.1f} s (exit {done.returncode})")
    return results


def _photos(images_dir: Path | None) -> list[Path]:
    return spread(images_under(images_dir), PHOTOS) if images_dir else [Path(str(ASTRONAUT))]


def run(*, images_dir: Path | None, requests: int, concurrency: Sequence[int],
        json_path: Path | None, say: Say | None = None, ray_address: str = "") -> dict[str, Any]:
    """The whole comparison; returns the report (and writes it to json_path). Without
    --images: the astronaut photo for the servers and, copied, as the bulk folder."""
    say = say or (lambda s: print(s, file=sys.stderr, flush=True))
    files = _photos(images_dir)
    images = [(f.name, f.read_bytes()) for f in files]
    with tempfile.TemporaryDirectory(prefix="humancut-bench-ray-") as tmp:
        work = Path(tmp)
        serve = serve_levels(work, images, requests, concurrency, say, ray_address)
        folder = images_dir or _copied(files, work / "photos")
        report = {"meta": {"date": now(), "cpu": cpu_name(), "cpus": CPUS,
                           "photos": [f.name for f in files], "bulk_photos": str(folder),
                           "requests": requests, "concurrency": list(concurrency),
                           "ray_address": ray_address or "a Ray started for each command"},
                  "serve": serve, "ray_overhead_ms": overhead_ms(serve),
                  "bulk": bulk(work, folder, say, ray_address)}
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
    return report


def _copied(files: Sequence[Path], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for f in files:
        shutil.copy(f, folder / f.name)
    return folder


def render(report: dict[str, Any]) -> str:
    rows = [["server", "c", "img/s", "p50 ms", "p95 ms", "errors", "Ray overhead ms"]]
    for name, levels in report["serve"].items():
        for lv in levels:
            extra = report["ray_overhead_ms"][str(lv["concurrency"])] if name == "ray" else None
            rows.append([name, str(lv["concurrency"]), f"{lv['images_per_second']:.2f}",
                         f"{lv['p50_ms']:.0f}", f"{lv['p95_ms']:.0f}", str(lv["errors"]),
                         "" if extra is None else f"{extra:+.0f}"])
    rows.append(["bulk", "", "img/s", "images", "seconds", "exit", ""])
    for name, b in report["bulk"].items():
        rows.append([f"cut {name}", "", f"{b['images_per_second']:.2f}", str(b["images"]),
                     f"{b['seconds']:.1f}", str(b["exit"]), ""])
    return "\n".join(_aligned(rows))
