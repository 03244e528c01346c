"""`humancut bench --flow` against real shared backends started here: PostgreSQL (Debian's
initdb + pg_ctl), Redis (redis-server) and moto_server (S3), each on a free loopback port in
a temporary folder (tests/support/services.py), stopped afterwards. The figures of
docs/multi-process.md ("What it costs"):

    .venv/bin/python scripts/flow_shared.py --requests 200 [--rounds 3] [--humancut PATH]

`--humancut` runs another checkout's command (e.g. ../main/.venv/bin/humancut) against the
same services, to compare before and after; `--rounds` repeats the bench."""

from __future__ import annotations

import argparse
import os
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
    parser.add_argument("--humancut", action="append",
                        help="the humancut command(s) to run (default: this venv's)")
    args = parser.parse_args()
    for name in ("postgres", "redis", "moto"):
        why = services.missing(name)
        if why:
            print(f"flow_shared: {why}", file=sys.stderr)
            return 1
    commands = args.humancut or [str(Path(sys.executable).parent / "humancut")]
    pg, redis, moto = services.Postgres(), services.Redis().start(), services.Moto().start()
    try:
        moto.create_bucket("flowbench")
        env = {**os.environ, **services.AWS_ENV}
        for round_ in range(args.rounds):
            for command in commands:
                print(f"## {command} (round {round_ + 1})", flush=True)
                subprocess.run([command, "bench", "--flow", "--requests", str(args.requests),
                                "--keys-url", pg.url(), "--limits-url", redis.url(),
                                "--results-url", "s3://flowbench/r",
                                "--s3-endpoint-url", moto.endpoint], env=env, check=True)
    finally:
        moto.close()
        redis.close()
        pg.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
