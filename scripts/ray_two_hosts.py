"""`humancut bench --ray` on a two-node Ray against one node with the same CPUs, on one
machine: the nodes are two network namespaces joined by a veth pair (tests/support/netns.py,
as root), nothing leaves them. Two runs, each in a fresh pair of hosts:

- two nodes: a Ray head with 1 CPU in host A, a worker with 1 CPU in host B;
- one node: a Ray head with 2 CPUs in host A.

In each, `humancut bench --ray --ray-address <A>:6379 --images DIR` runs inside host A (the
plain server and the local batch as well, as a baseline), and writes its JSON report.

    .venv/bin/python scripts/ray_two_hosts.py --images ../shared/eval/people-masks/images \\
        [--concurrency 4] [--requests 16] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.netns import TwoHosts  # noqa: E402

BIN = Path(sys.executable).parent
ENV = {**{k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"},
       "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
       "PYTHONPATH": str(ROOT / "src")}
NODE = ["--object-store-memory", str(200 * 2**20), "--disable-usage-stats"]


def start(hosts: TwoHosts, host: str, args: list[str], tmp: Path) -> None:
    done = hosts.run(host, [str(BIN / "ray"), "start", *args, *NODE, "--temp-dir",
                            str(tmp / host)], env=ENV)
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)


def one_run(layout: str, images: Path, concurrency: str, requests: int, out: Path) -> dict:
    hosts = TwoHosts.create()
    hosts.watch()
    tmp = Path(tempfile.mkdtemp(prefix="hc-bench-"))
    try:
        address = f"{hosts.a_ip}:6379"
        head = ["--head", "--node-ip-address", hosts.a_ip, "--port", "6379",
                "--include-dashboard", "false"]
        if layout == "two-nodes":
            start(hosts, "a", [*head, "--num-cpus", "1"], tmp)
            start(hosts, "b", ["--address", address, "--node-ip-address", hosts.b_ip,
                               "--num-cpus", "1"], tmp)
        else:
            start(hosts, "a", [*head, "--num-cpus", "2"], tmp)
        report = out / f"bench-ray-{layout}.json"
        done = hosts.run("a", [sys.executable, "-m", "humancut.cli", "bench", "--ray",
                               "--ray-address", address, "--images", str(images),
                               "--concurrency", concurrency, "--requests", str(requests),
                               "--json", str(report)], env=ENV, timeout=3600)
        print(f"== {layout}\n{done.stdout}", flush=True)
        if done.returncode:
            raise SystemExit(done.stderr[-5000:])
        foreign = hosts.foreign()
        if foreign:
            raise SystemExit(f"traffic outside loopback and the /30: {foreign}")
        return json.loads(report.read_text())
    finally:
        hosts.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--concurrency", default="4")
    p.add_argument("--requests", type=int, default=16)
    p.add_argument("--out", type=Path, default=Path("."))
    p.add_argument("--layouts", default="two-nodes,one-node")
    a = p.parse_args()
    for layout in a.layouts.split(","):
        one_run(layout, a.images.resolve(), a.concurrency, a.requests, a.out.resolve())


if __name__ == "__main__":
    main()
