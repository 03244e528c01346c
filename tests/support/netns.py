"""Two test hosts on one machine: two network namespaces joined by a veth pair with a /30
that exists only inside them (`lo` up in each, no default route, so nothing in them can send
anywhere else). Nothing is added to the root namespace's interfaces or routes.

    hosts = TwoHosts.create()          # raises Unavailable (say why, skip) where not permitted
    hosts.popen("a", ["redis-server", "--bind", hosts.a_ip, ...], log_path)
    hosts.run("b", [...])              # `ip netns exec <ns> ...`
    hosts.kill("b")                    # SIGKILL every process in host B (ip netns pids)
    hosts.close()                      # kill everything inside, delete both namespaces

`watch()` snapshots every TCP/UDP socket in both namespaces (`ss -tuanp`) in the background;
`foreign()` lists the ones bound or connected outside 127.0.0.0/8 and the /30."""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
# Wildcard binds: inside a namespace that has only lo and the /30 they reach nothing else.
WILDCARD = {"0.0.0.0", "::", "*"}


class Unavailable(Exception):
    """Namespaces cannot be made here (not root, no iproute2, not permitted)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30,
                          check=check)


def private_subnet() -> ipaddress.IPv4Network:
    """A /30 in 10.0.0.0/8 that no interface or route of this machine uses (they cannot
    collide inside the namespaces, but a reader of `ip addr` should not be misled either)."""
    used = _ip("-4", "addr").stdout + _ip("-4", "route").stdout
    nets = [ipaddress.ip_network(w, strict=False) for w in used.split()
            if "/" in w and w[0].isdigit()]
    while True:
        net = ipaddress.ip_network(f"10.{random.randint(64, 250)}.{random.randint(0, 255)}."
                                   f"{4 * random.randint(1, 62)}/30")
        if not any(net.overlaps(n) for n in nets):
            return net


class TwoHosts:
    def __init__(self, tag: str, subnet: ipaddress.IPv4Network):
        self.tag, self.subnet = tag, subnet
        self.ns = {"a": f"hc-{tag}-a", "b": f"hc-{tag}-b"}
        a, b = list(subnet.hosts())
        self.ips = {"a": str(a), "b": str(b)}
        self.a_ip, self.b_ip = self.ips["a"], self.ips["b"]
        self.sockets: set[tuple[str, str, str, str, str]] = set()  # proto, state, local, peer, proc
        self._watching = threading.Event()
        # Held while `ss` runs inside a namespace: pids() must never count the watcher's
        # own short-lived process as one of the host's.
        self._snapshotting = threading.Lock()
        self._watcher: threading.Thread | None = None
        self.cpus: dict[str, str] = {}  # host -> `taskset -c` CPU list (pin())

    @classmethod
    def create(cls) -> TwoHosts:
        if os.geteuid() != 0:
            raise Unavailable("network namespaces need root (ip netns add)")
        if not shutil.which("ip") or not shutil.which("ss"):
            raise Unavailable("iproute2 is not installed (apt-get install iproute2)")
        tag = uuid.uuid4().hex[:6]
        hosts = cls(tag, private_subnet())
        try:
            hosts._setup()
        except (subprocess.CalledProcessError, OSError) as exc:
            hosts.close()
            err = getattr(exc, "stderr", "") or str(exc)
            raise Unavailable(f"`ip netns` is not permitted here: {err.strip()}") from None
        return hosts

    def _setup(self) -> None:
        va, vb = f"hc{self.tag}a", f"hc{self.tag}b"  # <= 15 characters
        for ns in self.ns.values():
            _ip("netns", "add", ns)
        # Created in the root namespace for an instant, then moved: nothing stays there.
        _ip("link", "add", va, "type", "veth", "peer", "name", vb)
        for host, dev in (("a", va), ("b", vb)):
            ns = self.ns[host]
            _ip("link", "set", dev, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{self.ips[host]}/{self.subnet.prefixlen}", "dev", dev)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")

    # ---- running things inside -------------------------------------------------------

    def pin(self) -> bool:
        """Host A's processes on CPU 0, host B's on CPU 1 (children and Ray's workers
        inherit it), so a 1-CPU node has one real core, as on two machines; False with
        fewer than 2 CPUs or no taskset. Namespaces alone share every core."""
        if len(os.sched_getaffinity(0)) < 2 or not shutil.which("taskset"):
            return False
        first, second = sorted(os.sched_getaffinity(0))[:2]
        self.cpus = {"a": str(first), "b": str(second)}
        return True

    def exec(self, host: str, cmd: Sequence[str]) -> list[str]:
        pinned = ["taskset", "-c", self.cpus[host]] if host in self.cpus else []
        return ["ip", "netns", "exec", self.ns[host], *pinned, *cmd]

    def run(self, host: str, cmd: Sequence[str], *, timeout: float = 300, check: bool = False,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.exec(host, cmd), capture_output=True, text=True,
                              timeout=timeout, check=check, env=env)

    def popen(self, host: str, cmd: Sequence[str], log: Path | IO[bytes],
              env: dict[str, str] | None = None, **kw: Any) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if isinstance(log, Path) else log  # noqa: SIM115 - the child's
        return subprocess.Popen(self.exec(host, cmd), stdout=out, stderr=subprocess.STDOUT,
                                env=env, **kw)

    def pids(self, host: str) -> list[int]:
        with self._snapshotting:
            done = _ip("netns", "pids", self.ns[host], check=False)
        return [int(p) for p in done.stdout.split()]

    def kill(self, host: str, timeout: float = 10) -> int:
        """SIGKILL every process in the host (by pid, until none is left); how many."""
        killed: set[int] = set()
        deadline = time.monotonic() + timeout
        while (pids := self.pids(host)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        return len(killed)

    # ---- what the processes inside talked to -----------------------------------------

    def snapshot(self) -> None:
        for ns in self.ns.values():
            with self._snapshotting:
                done = subprocess.run(["ip", "netns", "exec", ns, "ss", "-tuanpH"],
                                      capture_output=True, text=True, timeout=30, check=False)
            for line in done.stdout.splitlines():
                f = line.split()
                if len(f) >= 6:
                    proc = f[6].split('"')[1] if len(f) > 6 and '"' in f[6] else ""
                    self.sockets.add((f[0], f[1], f[4], f[5], proc))

    def watch(self, every: float = 0.5) -> None:
        def loop() -> None:
            while not self._watching.wait(every):
                self.snapshot()

        self._watcher = threading.Thread(target=loop, daemon=True)
        self._watcher.start()

    def allowed(self, address: str) -> bool:
        host = address.rsplit(":", 1)[0].strip("[]")
        host = host.removeprefix("::ffff:").split("%")[0]
        if host in WILDCARD:
            return True
        ip = ipaddress.ip_address(host)
        return ip in LOOPBACK or ip == ipaddress.ip_address("::1") or ip in self.subnet

    def foreign(self) -> list[tuple[str, str, str, str, str]]:
        """Sockets seen bound or connected to an address outside loopback and the /30
        (a wildcard peer, `0.0.0.0:*` of a listener, is no address)."""
        self.snapshot()
        return sorted(s for s in self.sockets
                      if not self.allowed(s[2]) or not self.allowed(s[3]))

    def interfaces(self, host: str) -> set[str]:
        """Every address configured in the host."""
        words = _ip("-n", self.ns[host], "-o", "addr").stdout.split()
        return {words[i + 1] for i, w in enumerate(words) if w in ("inet", "inet6")}

    def close(self) -> None:
        """End every process inside (by pid) and delete both namespaces (the veth pair
        goes with them)."""
        self._watching.set()
        for host, ns in self.ns.items():
            if ns in _ip("netns", "list", check=False).stdout.split():
                self.kill(host)
                _ip("netns", "del", ns, check=False)
