"""The folder batch with decode/encode overlapping the model against one photo at a time.

    PYTHONPATH=src .venv/bin/python scripts/batch_overlap.py [PRESET] [COUNT]

Cuts COUNT (default 12) 1 MP JPEGs of the astronaut both ways, twice each, alternating, with
the default threads (one per core), and prints wall seconds, CPU seconds and the cores kept
busy (CPU / wall). Wall time is only meaningful on an otherwise idle machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from humancut import Remover, Settings, batch
from humancut.bench.photos import ASTRONAUT, scaled_jpeg


def one_at_a_time(remover: Remover, jobs: list[tuple[Path, Path]]) -> None:
    for src, dst in jobs:  # what `humancut cut DIR` did before humancut.batch
        batch.write_atomic(dst, remover.remove_bytes(src.read_bytes(), "rgba"))


def overlapped(remover: Remover, jobs: list[tuple[Path, Path]]) -> None:
    batch.cut_all(remover, jobs, "rgba")


def main(preset: str = "balanced", count: str = "12") -> None:
    remover = Remover(Settings.from_env(preset=preset))
    remover.model  # noqa: B018
    data, _ = scaled_jpeg(Image.open(ASTRONAUT), 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i in range(int(count)):
            src = Path(tmp) / f"in{i}.jpg"
            src.write_bytes(data)
            jobs.append((src, Path(tmp) / "out" / f"{i}.png"))
        remover.remove_bytes(data)
        for _ in range(2):
            for name, fn in (("one at a time", one_at_a_time), ("overlapped", overlapped)):
                w0, c0 = time.perf_counter(), time.process_time()
                fn(remover, jobs)
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                print(f"{preset} {name:14} {int(count)} x 1 MP: wall {wall:6.2f} s "
                      f"({int(count) / wall:.2f} img/s), CPU {cpu:6.2f} s, "
                      f"cores busy {cpu / wall:.2f}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
