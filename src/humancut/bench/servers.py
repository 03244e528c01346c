"""Servers in subprocesses on loopback ports: `humancut serve` and `rembg s`, the bench's two
contenders (the tests build their server helper on HumancutProcess).

    srv = HumancutProcess(tmp / "data", ["--workers", "1"], {"HUMANCUT_RESULT_TTL": "2"})
    srv.start()                      # a free port; returns once GET /readyz answers 200
    key = srv.new_key("bench", 5, rate_per_minute=0)
    httpx.post(srv.url + ROUTE, headers={"ailabapi-api-key": key}, ...)
    srv.stop()                       # SIGTERM, SIGKILL if it lingers

`start` raises with the server's log when the process exits first or is not ready in time.
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
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol, Self

from ..api import ROUTE
from ..settings import Settings
from ..store import KeyStore, open_keys
from .rembg import REMBG_MODEL, ensure_rembg, rembg_version

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status GET `url` answers, None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class ServerProcess:
    """A server subprocess on HOST:port with `env` added to os.environ, its output appended
    to `<log_dir>/<name>-<port>.log`. Subclasses give the command."""

    name = "server"

    def __init__(self, log_dir: Path, env: Mapping[str, str] | None = None, *,
                 port: int | None = None, ready_timeout: float = 180,
                 ready_path: str = "/readyz"):
        self.extra_env = dict(env or {})
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"  # no trailing slash
        self.ready_timeout = ready_timeout
        self.ready_path = ready_path
        self.log_path = Path(log_dir) / f"{self.name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        """Start the server and wait until it is ready; returns self."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if not self.running:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n"
                                   f"{self.log()}")
            if http_status(self.url + self.ready_path) == 200:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} was not ready after {self.ready_timeout} s:"
                                   f"\n{self.log()}")
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

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

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class HumancutProcess(ServerProcess):
    """`humancut serve --data-dir <data_dir> <extra_args>`, its log beside data_dir; and the
    key store against that data."""

    name = "humancut"

    def __init__(self, data_dir: Path, extra_args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, **options: Any):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self._keys: KeyStore | None = None
        super().__init__(self.data_dir.parent, env, **options)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "humancut.cli", "serve", "--host", HOST,
                "--port", str(self.port), "--data-dir", str(self.data_dir), *self.extra_args]

    def new_key(self, name: str, credits: int | None = None, **limits: int | None) -> str:
        """A new API key's secret, written from this process into the key store the server
        uses (its HUMANCUT_KEYS_URL, else keys.db under its data dir; SQLite's WAL lets the
        server read it at once): a `humancut keys create` process costs about a second.
        `limits`: rate_per_minute, max_in_flight."""
        if self._keys is None:
            self._keys = open_keys(Settings.from_env(self.env, data_dir=self.data_dir))
        return self._keys.create(name, credits, **limits)[1]


# ---- the bench's two contenders --------------------------------------------------------

class BenchServer(Protocol):
    """What the load generator needs of a server."""

    name: str
    version: str
    url: str

    @property
    def pid(self) -> int: ...

    def start(self) -> Any: ...

    def stop(self) -> int | None: ...

    async def call(self, client: Any, name: str, data: bytes) -> tuple[float, float, bytes]:
        """(seconds until answered, seconds until the PNG is in hand, the PNG)."""
        ...


def humancut_version() -> str:
    try:
        return version("humancut")
    except PackageNotFoundError:
        return "source"


class HumancutServer(HumancutProcess):
    """humancut serve as the bench runs it: a data dir in `work`, one key, quiet logs."""

    # Short-lived results, swept often: the soak writes thousands of PNGs.
    ENV = {"HUMANCUT_RESULT_TTL": "300", "HUMANCUT_SWEEP_INTERVAL": "30",
           "HUMANCUT_LOG_LEVEL": "warning"}

    def __init__(self, work: Path, device: str, preset: str | None = None):
        port = free_port()
        env = self.ENV | ({"HUMANCUT_PRESET": preset} if preset else {})
        super().__init__(work / f"data-{port}", ["--device", device], env, port=port,
                         ready_timeout=120)
        self.device = device
        self.preset = preset
        self.version = humancut_version()
        self.key = ""

    def start(self) -> HumancutServer:
        self.key = self.new_key("bench")
        return super().start()

    async def call(self, client: Any, name: str, data: bytes) -> tuple[float, float, bytes]:
        """The POST, then the GET of data.image_url: a client has the PNG only then."""
        t0 = time.perf_counter()
        r = await client.post(self.url + ROUTE, headers={"ailabapi-api-key": self.key},
                              files={"image": (name, data, "image/jpeg")})
        t1 = time.perf_counter()
        body = r.json()
        if r.status_code != 200 or body.get("error_code") != 0:
            raise RuntimeError(f"{r.status_code} {body.get('error_code_str')}: "
                               f"{body.get('error_msg')}")
        got = await client.get(body["data"]["image_url"])
        if got.status_code != 200 or not got.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"result fetch answered {got.status_code}")
        return t1 - t0, time.perf_counter() - t0, got.content


class RembgServer(ServerProcess):
    """`rembg s` from the bench's own rembg venv; its docs page /api says it is up."""

    name = "rembg"

    def __init__(self, work: Path):
        # BROWSER=true: a browser that does nothing, should anything try to open one.
        super().__init__(work, {"BROWSER": "true"}, ready_timeout=120, ready_path="/api")
        self.version = ""
        self.exe: Path | None = None

    def command(self) -> list[str]:
        return [str(self.exe), "s", "--host", HOST, "--port", str(self.port), "--no-ui",
                "--log_level", "warning"]

    def start(self) -> RembgServer:
        self.exe = ensure_rembg()
        self.version = rembg_version()
        return super().start()

    async def call(self, client: Any, name: str, data: bytes) -> tuple[float, float, bytes]:
        """One POST: rembg answers with the PNG itself."""
        t0 = time.perf_counter()
        r = await client.post(self.url + "/api/remove", data={"model": REMBG_MODEL},
                              files={"file": (name, data, "image/jpeg")})
        t1 = time.perf_counter()
        if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"rembg answered {r.status_code}: {r.text[:200]}")
        return t1 - t0, t1 - t0, r.content
