"""`humancut bench --flow` against real shared backends started here: PostgreSQL (Debian's
initdb + pg_ctl), Redis (redis-server) and moto_server or s3rver (S3), each on a free
loopback port in a temporary folder (tests/support/services.py), stopped afterwards. The figures of
docs/multi-process.md ("What it costs"):

    .venv/bin/python scripts/flow_shared.py --requests 200 [--rounds 3] [--s3 s3rver] \
        [--src DIR]... [--together]

`--src` runs the bench on another checkout's package (its src/ folder, first on PYTHONPATH)
against the same services, to compare before and after, `--together` all at the same time
(a loaded machine then weighs on each alike); `--rounds` repeats it all. The last lines give
each checkout's "shared over embedded" p50 in each round and their median."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import services  # noqa: E402 - after the path above


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--s3", choices=["moto", "s3rver", "none"], default="moto",
                        help="the S3 stand-in (moto: Python; s3rver: node, npm's), or none: "
                             "results in files, to see what PostgreSQL and Redis add alone")
    parser.add_argument("--together", action="store_true",
                        help="run the checkouts' benches at the same time, each round")
    parser.add_argument("--src", action="append", type=Path,
                        help="a checkout's src/ folder to bench (default: this checkout's)")
    args = parser.parse_args()
    for name in ("postgres", "redis", args.s3.replace("none", "redis")):
        why = services.missing(name)
        if why:
            print(f"flow_shared: {why}", file=sys.stderr)
            return 1
    sources = args.src or [ROOT / "src"]
    pg, redis = services.Postgres(), services.Redis().start()
    s3 = {"moto": services.Moto, "s3rver": lambda: services.S3rver("flowbench"),
          "none": lambda: None}[args.s3]()
    try:
        if s3 is not None:
            s3.start()
        if isinstance(s3, services.Moto):
            s3.create_bucket("flowbench")
        env = {**os.environ, **services.AWS_ENV}
        command = [sys.executable, "-m", "humancut.cli", "bench", "--flow", "--requests",
                   str(args.requests), "--keys-url", pg.url(), "--limits-url", redis.url()]
        if s3 is not None:
            command += ["--results-url", "s3://flowbench/r", "--s3-endpoint-url", s3.endpoint]
        overheads: dict[Path, list[float]] = {src: [] for src in sources}
        for round_ in range(args.rounds):
            # --together: every checkout's bench at once, so each sees the same load.
            runs = [(src, subprocess.Popen(command, stdout=subprocess.PIPE, text=True,
                                           env={**env, "PYTHONPATH": str(src.resolve())}))
                    for src in sources] if args.together else []
            for src in sources:
                if args.together:
                    process = next(p for s, p in runs if s == src)
                    out, _ = process.communicate()
                    if process.returncode:
                        raise SystemExit(f"flow_shared: the bench of {src} failed")
                else:
                    out = subprocess.run(command, stdout=subprocess.PIPE, text=True,
                                         env={**env, "PYTHONPATH": str(src.resolve())},
                                         check=True).stdout
                print(f"## {src} (round {round_ + 1})\n{out}", flush=True)
                overheads[src] += [float(line.split("|")[2]) for line in out.splitlines()
                                   if line.startswith("| shared over embedded")]
        for src, values in overheads.items():
            print(f"{src}: shared over embedded, p50 ms, each round: "
                  f"{', '.join(f'{v:+.1f}' for v in values)}; median "
                  f"{statistics.median(values):+.1f}")
    finally:
        if s3 is not None:
            s3.close()
        redis.close()
        pg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
