"""Memory and CPU time of a server's whole process tree, read from /proc (Linux).

A tree, because a server may fork workers; RSS is sampled in a thread because the peak
comes and goes between two requests."""

from __future__ import annotations

import os
import threading
from contextlib import suppress

SAMPLE_INTERVAL = 0.05  # s between RSS samples


def children(pid: int) -> list[int]:
    out: list[int] = []
    with suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    return out


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += children(p)
    return pids


def rss_bytes(pid: int) -> int:
    with suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system time; the fields after the command name, which may hold spaces."""
    with suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in process_tree(pid))


def tree_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in process_tree(pid))


class RssSampler:
    """Samples the RSS of a process tree every SAMPLE_INTERVAL in a thread; keeps the peak
    since the last reset."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL):
        self.pid, self.interval = pid, interval
        self.peak = self.last = tree_rss(pid)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = tree_rss(self.pid)
            with self._lock:
                self.last = rss
                self.peak = max(self.peak, rss)

    def reset(self) -> None:
        with self._lock:
            self.peak = self.last = tree_rss(self.pid)

    def read_peak(self) -> int:
        rss = tree_rss(self.pid)
        with self._lock:
            self.peak = max(self.peak, rss)
            return self.peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
