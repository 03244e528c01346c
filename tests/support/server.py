"""A real `humancut serve` in a subprocess, for tests that talk HTTP to it: the bench's
HumancutProcess (humancut.bench.servers) plus what only tests need: restarts, the CLI
against the server's data, keys made with `humancut keys create`'s flags.

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        srv = start(tmp_path_factory.mktemp("srv"), extra_args=["--workers", "1"])
        # or: srv = Server(tmp_path_factory.mktemp("srv") / "data").start()
        yield srv
        srv.stop()

    key = server.create_key(credits=5)
    httpx.post(server.url + ROUTE, headers={"ailabapi-api-key": key}, ...)
    server = server.restart()        # same port and data dir: old result URLs stay valid
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from humancut.api import ROUTE
from humancut.bench.servers import HOST, HumancutProcess, free_port

__all__ = ["HOST", "ROUTE", "Server", "free_port", "start"]


class Server(HumancutProcess):
    """`humancut serve` on a free loopback port, with the CLI and key store against its data."""

    def restart(self) -> Server:
        """A new server on the same port and data dir (stops this one first)."""
        self.stop()
        return Server(self.data_dir, self.extra_args, self.extra_env, port=self.port,
                      ready_timeout=self.ready_timeout, ready_path=self.ready_path).start()

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
        """A new key's secret (new_key: in this process, not a `humancut keys create`, which
        costs about a second). `extra_args` are that command's flags: --name, --rate,
        --concurrency, --credits."""
        args, rest = _KEY_FLAGS.parse_known_args(extra_args)
        if rest:
            raise ValueError(f"create_key does not know {rest}; use keys('create', ...)")
        return self.new_key(args.name, args.credits if credits is None else credits,
                            rate_per_minute=args.rate, max_in_flight=args.concurrency)


def _key_flags() -> argparse.ArgumentParser:
    """The flags of `humancut keys create` that set a key's fields (unknown ones are refused,
    never ignored)."""
    parser = argparse.ArgumentParser(prog="create_key", add_help=False, exit_on_error=False)
    parser.add_argument("--name", default="")
    for flag in ("--credits", "--rate", "--concurrency"):
        parser.add_argument(flag, type=int)
    return parser


_KEY_FLAGS = _key_flags()


def start(tmp_path: Path, extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
          **options: Any) -> Server:
    """Start a server with its data in `tmp_path`/data; return it once it is ready.

    `extra_args` go after `serve` (e.g. ["--workers", "1", "--trial-key"]); `env` is added to
    the current environment (e.g. {"HUMANCUT_RESULT_TTL": "2"}); `options` are Server's
    keyword arguments (port, ready_timeout, ready_path).
    """
    return Server(Path(tmp_path) / "data", extra_args, env, **options).start()
