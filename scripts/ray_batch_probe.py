"""Does `@serve.batch` help on this CPU? One Model-like replica (2 CPUs, 2 onnxruntime
threads) answering 16 calls at concurrency 4 through a deployment handle, with batches of
at most 1, 2 and 4 jobs. The pipeline mattes one photo at a time (scales, closer looks and
clean-up are per photo, sizes differ), so a batch is a loop over its jobs: the probe tells
whether grouping alone gains anything. Loopback, 2 CPUs.

    .venv/bin/python scripts/ray_batch_probe.py [--photos DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled",
                   "RAY_USAGE_STATS_ENABLED": "0"})

import ray  # noqa: E402
from ray import serve  # noqa: E402

from humancut.bench.load import percentile  # noqa: E402
from humancut.bench.photos import ASTRONAUT, spread  # noqa: E402
from humancut.imageops import images_under  # noqa: E402
from humancut.job import Job  # noqa: E402
from humancut.remover import Remover  # noqa: E402
from humancut.settings import Settings  # noqa: E402

CALLS, CONCURRENCY = 16, 4


@serve.deployment(ray_actor_options={"num_cpus": 2}, max_ongoing_requests=8)
class Batched:
    def __init__(self, batch: int):
        self.remover = Remover(Settings.from_env(threads=2))
        self.remover.model  # noqa: B018
        self.handle_batch = serve.batch(max_batch_size=batch, batch_wait_timeout_s=0.02)(
            self._batch)

    async def _batch(self, jobs: list[Job]) -> list[int]:
        return await asyncio.to_thread(lambda: [len(self.remover.run(j).png) for j in jobs])

    async def __call__(self, job: Job) -> int:
        return await self.handle_batch(job)


async def drive(handle: serve.handle.DeploymentHandle, jobs: list[Job]) -> tuple[float, float]:
    latencies: list[float] = []
    counter = iter(range(CALLS))

    async def worker() -> None:
        for i in counter:
            t0 = time.perf_counter()
            await handle.remote(jobs[i % len(jobs)])
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return CALLS / (time.perf_counter() - t0), percentile(latencies, 50)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--photos", type=Path)
    args = p.parse_args()
    files = spread(images_under(args.photos), 8) if args.photos else [Path(str(ASTRONAUT))]
    jobs = [Job(f.read_bytes()) for f in files]
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for batch in (1, 2, 4):
            handle = serve.run(Batched.bind(batch), name="probe", route_prefix=None)
            for job in jobs:  # warm-up
                handle.remote(job).result()
            ips, p50 = asyncio.run(drive(handle, jobs))
            print(f"max_batch_size={batch}: {ips:5.2f} img/s  p50 {p50 * 1000:6.0f} ms",
                  flush=True)
            serve.delete("probe")
    finally:
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
