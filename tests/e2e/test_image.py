"""The container image (Dockerfile), built and run for real with Debian's tools: no container
registry is reachable here and Docker's daemon is absent, so the base is made by mmdebstrap
(scripts/debian-base.sh, cached), the image by `buildah bud`, and the image's own program
runs under `buildah run --isolation chroot` on this machine's loopback (crun cannot set
rlimits in this sandbox, so `podman run` fails). docs/deploy.md says what this covers.

Build layers are cached by buildah: a rerun with only the source changed rebuilds the wheel
and the last layer, not the dependencies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from humancut.bench.servers import HOST, free_port, http_status
from tests.support.checks import check_sdk_cut
from tests.support.images import decode

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/humancut-base:bookworm"
IMAGE = "localhost/humancut:test"
# The build's pip (and the model fetch, which is `pip download`) reach the package index
# through this machine's CA bundle and pip configuration: lent as volumes, never baked in.
BUILD_VOLUMES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf")
BUILD_TIMEOUT = 15 * 60

_missing = [tool for tool in ("buildah", "podman", "mmdebstrap") if shutil.which(tool) is None]
pytestmark = [
    pytest.mark.skipif(bool(_missing), reason=f"{', '.join(_missing)} not installed "
                       "(`make test` installs buildah, podman and mmdebstrap as root)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the image test builds as root (buildah's "
                       "chroot isolation and mmdebstrap's root mode)"),
]


def run(*cmd: str, timeout: float = 120) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} failed ({done.returncode}):\n" \
                                 f"{done.stdout[-4000:]}{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def image() -> str:
    t0 = time.monotonic()
    base = run(str(ROOT / "scripts" / "debian-base.sh"), BASE, timeout=BUILD_TIMEOUT).strip()
    t1 = time.monotonic()
    volumes = [arg for path in BUILD_VOLUMES if Path(path).is_file()
               for arg in ("-v", f"{path}:{path}:ro")]
    run("buildah", "bud", "--isolation", "chroot", "--format", "docker", "--layers",
        "--build-arg", f"BASE={base}", *volumes, "-t", IMAGE, str(ROOT),
        timeout=BUILD_TIMEOUT)
    t2 = time.monotonic()
    size = int(run("podman", "image", "inspect", "--format", "{{.Size}}", IMAGE))
    print(f"\nimage {IMAGE}: {size / 1e6:.0f} MB; base {t1 - t0:.0f} s, build {t2 - t1:.0f} s")
    return IMAGE


@pytest.fixture
def container(image: str) -> Iterator[str]:
    """A working container of the image (removed afterwards, also on failure)."""
    name = f"humancut-test-{uuid.uuid4().hex[:8]}"
    run("buildah", "from", "--name", name, image)
    try:
        yield name
    finally:
        subprocess.run(["buildah", "rm", name], capture_output=True, timeout=60, check=False)


def in_container(name: str, *cmd: str, timeout: float = 120) -> str:
    return run("buildah", "run", "--isolation", "chroot", name, *cmd, timeout=timeout)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def server_process(pid: int) -> tuple[int, int]:
    """The image's `humancut serve` below `buildah run` (pid): its pid and user id."""
    for child in descendants(pid):
        try:
            argv = (Path("/proc") / str(child) / "cmdline").read_bytes().split(b"\0")
            status = (Path("/proc") / str(child) / "status").read_text()
        except OSError:
            continue
        if argv[0].endswith(b"python3") and b"serve" in argv:
            uid = next(int(line.split()[1]) for line in status.splitlines()
                       if line.startswith("Uid:"))
            return child, uid
    raise AssertionError("no humancut serve process below buildah run")


def test_the_image_serves_both_families_and_stops_cleanly(container, astronaut_bytes):
    # What the final stage holds: the model, no source tree, compiler or test tools.
    assert "\t/opt/humancut/models/" in in_container(container, "humancut", "models", "list")
    in_container(container, "sh", "-c", "test ! -e /src && ! command -v gcc && "
                 "! python3 -c 'import pytest' 2>/dev/null")
    # `docker run IMAGE keys create`, against the same /data the server uses.
    secret = in_container(container, "humancut", "keys", "create", "--name",
                          "image-test").strip().splitlines()[-1]
    assert secret.startswith("hc_")

    port = free_port()
    url = f"http://{HOST}:{port}"
    serve = subprocess.Popen(["buildah", "run", "--isolation", "chroot", container,
                              "humancut", "serve", "--host", HOST, "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while http_status(url + "/readyz") != 200:
            assert serve.poll() is None, serve.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "not ready after 120 s"
            time.sleep(0.3)
        pid, uid = server_process(serve.pid)
        assert uid != 0  # the image's user

        # The image's HEALTHCHECK command, as a container runtime would run it.
        config = json.loads(run("buildah", "inspect", "--type", "image", IMAGE))
        test = config["Docker"]["config"]["Healthcheck"]["Test"]
        assert test[0] == "CMD"
        in_container(container, "env", f"HUMANCUT_PORT={port}", *test[1:])

        check_sdk_cut(url, secret, astronaut_bytes, None, timeout=120)
        resp = httpx.post(url + "/v1.0/removebg", headers={"X-Api-Key": secret},
                          files={"image_file": ("a.jpg", astronaut_bytes)},
                          data={"size": "full"}, timeout=120)
        assert resp.status_code == 200, resp.text
        cut = np.asarray(decode(resp.content))
        assert cut.shape == (512, 512, 4) and cut[80, 220, 3] == 255 and cut[10, 10, 3] == 0

        metrics = httpx.get(url + "/metrics", timeout=10).text
        lines = [line for line in metrics.splitlines() if line.startswith(
            ("humancut_requests_total", "humancut_credits_charged_total", "humancut_build_info",
             "humancut_model_duration_seconds_", "humancut_request_duration_seconds_sum",
             "humancut_request_duration_seconds_count"))]
        print("\n" + "\n".join(line for line in lines if not line.endswith(" 0.0")))
        assert 'humancut_requests_total{family="ailab",outcome="ok"} 1.0' in lines
        assert 'humancut_requests_total{family="removebg",outcome="ok"} 1.0' in lines

        os.kill(pid, signal.SIGTERM)  # what `docker stop` sends the container's program
        assert serve.wait(60) == 0, serve.stdout.read().decode()  # type: ignore[union-attr]
    finally:
        if serve.poll() is None:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait(30)
