"""A real `humancut serve` in a subprocess, for tests that talk HTTP to it.

    from server import ROUTE, Server, start

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        srv = start(tmp_path_factory.mktemp("srv"), extra_args=["--workers", "1"])
        # or: srv = Server(tmp_path_factory.mktemp("srv") / "data").start()
        yield srv
        srv.stop()

    key = server.create_key(credits=5)
    httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key}, ...)

`Server.start` picks a free port (unless given one), waits until GET /readyz answers 200
(the model is loaded) and raises with the server's log if it exits or is not ready in time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST = "127.0.0.1"
ROUTE = "/api/cutout/portrait/portrait-background-removal"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class Server:
    """`humancut serve --data-dir <data_dir> <extra_args>` with `env` added to os.environ."""

    def __init__(self, data_dir: Path, extra_args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, *, port: int | None = None,
                 ready_timeout: float = 180, ready_path: str = "/readyz"):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"  # no trailing slash
        self.ready_timeout = ready_timeout
        self.ready_path = ready_path
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    # ---- life ------------------------------------------------------------------------

    def start(self) -> Server:
        """Start the server and wait until it is ready; returns self."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "humancut.cli", "serve", "--host", HOST,
               "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                            env=self.env)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self.running:
                raise RuntimeError(f"humancut serve exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            if _status(self.url + self.ready_path) == 200:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"humancut serve was not ready after {self.ready_timeout} s:"
                                   f"\n{self.log()}")
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        """Send `sig` (SIGTERM: a clean shutdown), SIGKILL after `timeout`; the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        return self.process.returncode

    def restart(self) -> Server:
        """A new server on the same port and data dir (stop this one first)."""
        self.stop()
        return Server(self.data_dir, self.extra_args, self.extra_env, port=self.port,
                      ready_timeout=self.ready_timeout, ready_path=self.ready_path).start()

    def __enter__(self) -> Server:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ---- the CLI against this server's data ------------------------------------------

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `humancut <args>` with this server's environment."""
        return subprocess.run([sys.executable, "-m", "humancut.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def keys(self, *args: str) -> str:
        """`humancut keys <args> --data-dir <data_dir>`; its stdout (raises on failure)."""
        full = ["keys", *args, "--data-dir", str(self.data_dir)]
        done = self.cli(*full)
        if done.returncode != 0:
            raise RuntimeError(f"`humancut {' '.join(full)}` failed ({done.returncode}):\n"
                               f"{done.stdout}{done.stderr}")
        return done.stdout

    def create_key(self, credits: int | None = None, *extra_args: str) -> str:
        """A new API key (the secret: the last line `keys create` prints)."""
        args = ["create", *extra_args]
        if credits is not None:
            args += ["--credits", str(credits)]
        lines = self.keys(*args).strip().splitlines()
        if not lines:
            raise RuntimeError("`humancut keys create` printed no key")
        return lines[-1].strip()


def start(tmp_path: Path, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
          **options: object) -> Server:
    """Start a server with its data in `tmp_path`/data; return it once it is ready.

    `extra_args` go after `serve` (e.g. ["--workers", "1", "--trial-key"]); `env` is added to
    the current environment (e.g. {"HUMANCUT_RESULT_TTL": "2"}); `options` are Server's
    keyword arguments (port, ready_timeout, ready_path).
    """
    return Server(Path(tmp_path) / "data", extra_args, env, **options).start()  # type: ignore[arg-type]
