"""Real backing services for the shared-backend tests, each on a free loopback port in its own
temporary directory, stopped afterwards: PostgreSQL (Debian's initdb + pg_ctl, as the
`postgres` user when we are root), Redis (redis-server), moto_server (the S3 protocol) and
s3rver (npm; the one that refuses expired presigned URLs), and haproxy (Debian's) run on
deploy/haproxy.cfg as shipped.

`missing()` says why a service cannot run here (the tests skip with that reason)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.server import HOST, free_port

ROOT = Path(__file__).resolve().parents[2]
S3RVER = ROOT / ".services" / "node_modules" / ".bin" / "s3rver"
PG_USER, PG_PASSWORD = "humancut", "s3cret-pw"
# Test doubles accept any credentials; setting them also keeps boto3 from asking an instance
# metadata service (which would leave loopback).
AWS_ENV = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def pg_bin(name: str) -> str | None:
    """Debian's own binaries first: its /usr/bin wrappers (createdb...) want a cluster of
    pg_createcluster's."""
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else shutil.which(name)


def missing(service: str) -> str | None:
    """Why `service` cannot run here, or None."""
    if service == "postgres":
        if not (pg_bin("initdb") and pg_bin("pg_ctl")):
            return "PostgreSQL is not installed (Debian package postgresql; `make test` does)"
        if os.geteuid() == 0 and not shutil.which("runuser"):
            return "running as root without runuser to start PostgreSQL as `postgres`"
    if service == "redis" and not shutil.which("redis-server"):
        return "redis-server is not installed (Debian package redis-server; `make test` does)"
    if service == "moto" and not _moto_server():
        return "moto_server is not installed (pip install 'moto[server]', in the test extra)"
    if service == "haproxy" and not _haproxy():
        return "haproxy is not installed (Debian package haproxy; `make test` does)"
    if service == "s3rver" and not (S3RVER.exists() and shutil.which("node")):
        return "s3rver is not installed (`make test` runs npm install into .services/)"
    return None


def _moto_server() -> str | None:
    beside = Path(sys.executable).parent / "moto_server"
    return str(beside) if beside.exists() else shutil.which("moto_server")


def _haproxy() -> str | None:
    return shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.path.exists(p)), None)


def _wait_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"not listening on {port} after {timeout} s:\n{log.read_text()[-2000:]}")


class Postgres:
    """A throwaway cluster with password (scram) authentication on 127.0.0.1, or on `host`
    with its tools run through `prefix` (`ip netns exec NS`: the two-host tests)."""

    def __init__(self, host: str = HOST, prefix: Sequence[str] = ()) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="humancut-pg-"))
        self.data, self.log = self.dir / "data", self.dir / "pg.log"
        self.host, self.prefix = host, list(prefix)
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        pwfile = self.dir / "pw"
        pwfile.write_text(PG_PASSWORD)
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
            shutil.chown(pwfile, "postgres")
        self._pg("initdb", "-D", str(self.data), "-U", PG_USER, "--pwfile", str(pwfile),
                 "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync")
        if host != HOST:  # initdb lets in loopback only; samenet: the hosts' /30 too
            with open(self.data / "pg_hba.conf", "a") as hba:
                hba.write("host all all samenet scram-sha-256\n")
        self.start()
        # createdb where the server is reachable (inside the namespace for `prefix`).
        subprocess.run([*self.prefix, pg_bin("createdb"), "-h", self.host, "-p", str(self.port),
                        "-U", PG_USER, "humancut"], check=True, capture_output=True,
                       timeout=60, env={**os.environ, "PGPASSWORD": PG_PASSWORD})

    def _pg(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, *self.as_postgres, pg_bin(tool), *args], check=True,  # type: ignore[list-item]
                       capture_output=True, timeout=120, cwd=self.dir)

    def url(self, db: str = "humancut", password: str = PG_PASSWORD) -> str:
        return f"postgresql://{PG_USER}:{password}@{self.host}:{self.port}/{db}"

    def start(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                 "-o", f"-p {self.port} -k {self.dir} -c listen_addresses={self.host} "
                       "-c fsync=off -c max_connections=200", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.dir, ignore_errors=True)


class Process:
    """A service run as a child process on a free port; restartable on the same port."""

    def __init__(self, name: str, port: int | None = None) -> None:
        self.name, self.port = name, port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"humancut-{name}-"))
        self.log = self.dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.extra_env: dict[str, str] = {}

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Process:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            cwd=self.dir,
                                            env={**os.environ, **AWS_ENV, **self.extra_env})
        _wait_port(self.port, self.process, self.log)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis(Process):
    def __init__(self) -> None:
        super().__init__("redis")

    def command(self) -> list[str]:
        return ["redis-server", "--port", str(self.port), "--bind", HOST, "--save", "",
                "--appendonly", "no", "--dir", str(self.dir)]

    def url(self, db: int = 0) -> str:
        return f"redis://{HOST}:{self.port}/{db}"


class Moto(Process):
    def __init__(self) -> None:
        super().__init__("moto")

    def command(self) -> list[str]:
        return [_moto_server() or "moto_server", "-H", HOST, "-p", str(self.port)]

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def create_bucket(self, name: str) -> None:
        s3_client(self.endpoint).create_bucket(Bucket=name)


class S3rver(Process):
    def __init__(self, bucket: str) -> None:
        super().__init__("s3rver")
        self.bucket = bucket

    def command(self) -> list[str]:
        return [str(S3RVER), "-d", str(self.dir / "buckets"), "-a", HOST, "-p", str(self.port),
                "--silent", "--no-vhost-buckets", "--configure-bucket", self.bucket]

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"


def s3_client(endpoint: str):  # noqa: ANN201 - boto3's client type is generated
    import boto3

    os.environ.update({k: v for k, v in AWS_ENV.items() if k not in os.environ})
    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=AWS_ENV[
        "AWS_ACCESS_KEY_ID"], aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1")


class Haproxy(Process):
    """deploy/haproxy.cfg as shipped, its addresses given by the variables it reads: the
    frontend on a free loopback port, `replicas` (name -> port) as its servers a and b, the
    runtime API on a socket in its folder (`stat()` reads it)."""

    CONFIG = ROOT / "deploy" / "haproxy.cfg"

    def __init__(self, replicas: dict[str, int]) -> None:
        super().__init__("haproxy")
        self.socket = self.dir / "admin.sock"
        self.extra_env = {"LB_BIND": f"{HOST}:{self.port}", "STATS_SOCKET": str(self.socket),
                          **{f"REPLICA_{name.upper()}": f"{HOST}:{port}"
                             for name, port in replicas.items()}}

    def command(self) -> list[str]:
        return [_haproxy() or "haproxy", "-db", "-f", str(self.CONFIG)]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ask(self, command: str) -> str:
        """One command to the runtime API (`show stat`, `show servers state`...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def stat(self) -> dict[str, dict[str, str]]:
        """The backend's servers (a, b) and the backend itself (BACKEND): `show stat`'s
        columns by name (status UP/DOWN, stot calls sent, wretr retries, wredis
        redispatches, ...)."""
        lines = [line for line in self.ask("show stat").splitlines() if line]
        head = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(head, line.split(","), strict=False)) for line in lines[1:]]
        return {r["svname"]: r for r in rows if r["pxname"] == "replicas"}
