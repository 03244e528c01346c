"""`serve --ray` on a port already taken stops at once with exit status 4 and the plain
server's line (Ray Serve's proxy would only log its failure to bind, later), when the Ray
head is this machine: one started here, or one joined at an address of this machine's."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time

import pytest

if importlib.util.find_spec("ray") is None:
    pytest.skip("the ray extra is not installed", allow_module_level=True)


def serve_ray(port: int, tmp_path, *extra: str) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "humancut.cli", "serve", "--ray", "--port",
                           str(port), "--data-dir", str(tmp_path / "d"), *extra],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "HUMANCUT_RAY_CPUS": "1"}, check=False)


@pytest.mark.parametrize("ray_address", ["", "127.0.0.1:1"])
def test_serve_ray_on_a_taken_port_exits_4_like_the_plain_server(tmp_path, ray_address):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = serve_ray(port, tmp_path, *(["--ray-address", ray_address] if ray_address
                                          else []))
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"humancut: cannot serve on 127.0.0.1:{port}: the port is in use (another server?); "
        "choose another with --port / HUMANCUT_PORT (or --host / HUMANCUT_HOST)")
    assert time.monotonic() - started < 60  # before any Ray is started or joined
    assert "Ray" not in done.stderr


def test_a_remote_head_is_not_checked_here() -> None:
    from humancut.cli.serve import _local

    assert _local("") and _local("auto") and _local("127.0.0.1:6379")
    assert _local("ray://localhost:10001")
    assert not _local("192.0.2.1:6379")  # TEST-NET-1: never this machine's
