"""The numbers of docs/ray.md: `humancut serve --ray` against the plain server (same photos,
same CPUs: 2 images at once, 1 onnxruntime thread each), and `cut --ray` against the local
batch. Needs humancut[ray]; Ray runs on loopback with 2 CPUs.

    .venv/bin/python scripts/ray_bench.py [--photos DIR] [--n 24] [--levels 1,4]
        [--serve-only | --bulk-only] [--batch]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
                   "RAY_USAGE_STATS_ENABLED": "0"})

from humancut.bench.load import _load, percentile  # noqa: E402
from humancut.bench.photos import ASTRONAUT, image_files, spread  # noqa: E402
from humancut.bench.servers import HumancutServer  # noqa: E402

SAME_CPUS = ["--threads", "1"]
PLAIN = ["--workers", "2", *SAME_CPUS]
RAY = ["--ray", "--ray-cpus", "2", "--ray-num-cpus", "1", "--ray-min-replicas", "2",
       "--ray-max-replicas", "2", "--workers", "1", *SAME_CPUS]


class Server(HumancutServer):
    def __init__(self, work: Path, name: str, args: list[str]):
        super().__init__(work, "cpu")
        self.name = name
        self.extra_args += args
        self.ready_timeout = 240


def serve_levels(work: Path, images: list[tuple[str, bytes]], n: int,
                 levels: list[int]) -> None:
    for name, args in (("plain", PLAIN), ("ray", RAY)):
        with Server(work, name, args) as server:
            asyncio.run(_load(server, images, len(images), 2))  # warm-up
            for c in levels:
                latencies, errors, wall = asyncio.run(_load(server, images, n, c))
                total = [t for _, t in latencies]
                print(f"{name:6} c={c}: {len(total) / wall:5.2f} img/s  "
                      f"p50 {percentile(total, 50) * 1000:6.0f} ms  "
                      f"p95 {percentile(total, 95) * 1000:6.0f} ms  errors {len(errors)}",
                      flush=True)


def bulk(work: Path, photos: Path) -> None:
    for label, extra in (("local", ["--threads", "2"]),
                         ("ray", ["--ray", "--ray-cpus", "2", "--ray-num-cpus", "1",
                                  "--ray-max-replicas", "2", "--threads", "1"])):
        out = work / f"bulk-{label}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "humancut.cli", "cut", str(photos),
                               "-o", str(out), "-q", *extra], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        count = len(list(out.rglob("*.png")))
        print(f"bulk {label:5}: {count} images in {wall:5.1f} s = {count / wall:4.2f} img/s "
              f"(process start, Ray start and model loads included; exit {done.returncode})",
              flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--photos", type=Path, help="a folder of photos (default: the astronaut)")
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--levels", default="1,4")
    p.add_argument("--serve-only", action="store_true")
    p.add_argument("--bulk-only", action="store_true")
    args = p.parse_args()
    files = spread(image_files(args.photos), 8) if args.photos else [Path(str(ASTRONAUT))]
    images = [(f.name, f.read_bytes()) for f in files]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.bulk_only:
            serve_levels(work, images, args.n, [int(c) for c in args.levels.split(",")])
        if not args.serve_only and args.photos:
            bulk(work, args.photos)


if __name__ == "__main__":
    main()
