"""`humancut bench` on a tiny setting: the report has its fields and sane numbers.
No timing thresholds here: the figures depend on the machine."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PIL import Image

import humancut
from humancut.bench import photos
from humancut.bench.load import percentile
from humancut.bench.photos import build_groups, scaled_jpeg
from tests.support.images import ASTRONAUT

HUMANCUT = [sys.executable, "-m", "humancut.cli"]
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def positive(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_scaled_jpeg_respects_the_limits(astronaut):
    data, (w, h) = scaled_jpeg(astronaut, 3.9)
    assert w <= 1999 and h <= 1999 and w * h >= 3.8e6
    assert len(data) <= 3 * 1024 * 1024
    assert Image.open(io.BytesIO(data)).size == (w, h)
    _, (w, h) = scaled_jpeg(astronaut, 0.25)
    assert abs(w * h - 250_000) < 2_000


def test_percentile():
    assert percentile([3, 1, 2], 50) == 2
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    assert math.isnan(percentile([], 50))


def generated_photos(folder: Path, astronaut: Image.Image, count: int = 3,
                     prefix: str = "p") -> list[str]:
    """`count` small JPEGs of the astronaut, each a different size and crop."""
    folder.mkdir(parents=True)
    names = []
    for i in range(count):
        crop = astronaut.crop((0, 0, 512 - 40 * i, 512))
        data, _ = scaled_jpeg(crop, 0.06 + 0.02 * i)
        names.append(f"{prefix}{i}.jpg")
        (folder / names[-1]).write_bytes(data)
    return names


def test_the_astronaut_is_package_data():
    """Found in the package's own folder (no source checkout needed) and named in
    pyproject's package-data, so a wheel carries it."""
    package = Path(humancut.__file__).resolve().parent
    found = Path(str(photos.ASTRONAUT)).resolve()
    assert found == package / "bench" / "data" / "astronaut.jpg" == ASTRONAUT.resolve()
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    assert found in {p.resolve() for g in globs["humancut"] for p in package.glob(g)}
    assert not (PYPROJECT.parent / "tests" / "fixtures").exists()  # one copy only


def test_an_installed_copy_generates_its_sizes(tmp_path):
    """What a wheel holds (the .py files plus the package-data) copied to a bare folder:
    the bench builds its astronaut sizes there, far from any source checkout."""
    package = Path(humancut.__file__).resolve().parent
    globs = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]["package-data"]
    site = tmp_path / "site"
    data = [p for g in globs["humancut"] for p in package.glob(g) if p.is_file()]
    for path in [*package.rglob("*.py"), *data]:
        target = site / "humancut" / path.relative_to(package)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    code = ("import humancut.bench as b; g = b.build_groups([0.25], None); "
            "print(b.ASTRONAUT); print(g[0].label, g[0].sizes[0][0] * g[0].sizes[0][1])")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr[-3000:]
    path, group = done.stdout.split("\n")[:2]
    assert Path(path) == site / "humancut" / "bench" / "data" / "astronaut.jpg"
    label, pixels = group.split()
    assert label == "0.25MP" and abs(int(pixels) - 250_000) < 2_000


def test_eval_dir_builds_the_eval_mix(tmp_path, astronaut, monkeypatch):
    monkeypatch.delenv(photos.EVAL_DIR_ENV, raising=False)
    [group] = build_groups([0.25], None, photos.eval_dir_from(None))  # no eval dir: no mix
    assert group.label == "0.25MP"
    names = generated_photos(tmp_path / "flat", astronaut)
    monkeypatch.setenv(photos.EVAL_DIR_ENV, str(tmp_path / "flat"))
    [group] = build_groups([], None, photos.eval_dir_from(None))
    assert group.label == "eval-mix" and [n for n, _ in group.images] == names
    assert len(group.sizes) == 3 and len(set(group.sizes)) == 3
    # The layout of ../shared/eval: a few photos spread through each set's images/, the
    # flag before the environment, portrait-mattes first as in earlier reports.
    for name in ("people-masks", "portrait-mattes"):
        generated_photos(tmp_path / "sets" / name / "images", astronaut, 6, name[:2])
    [group] = build_groups([], None, photos.eval_dir_from(tmp_path / "sets"), per_set=2)
    assert [n for n, _ in group.images] == ["po0.jpg", "po5.jpg", "pe0.jpg", "pe5.jpg"]
    with pytest.raises(ValueError, match="not a folder"):
        build_groups([], None, tmp_path / "missing")


def test_bench_tiny_run_writes_a_complete_report(tmp_path, astronaut):
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "a.jpg").write_bytes(ASTRONAUT.read_bytes())
    generated_photos(tmp_path / "eval", astronaut)
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != photos.EVAL_DIR_ENV}
    done = subprocess.run(
        [*HUMANCUT, "bench", "--requests", "4", "--concurrency", "1,2", "--sizes", "0.25",
         "--images", str(images), "--eval-dir", str(tmp_path / "eval"), "--json", str(out)],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "targets:" in done.stdout and "humancut" in done.stdout

    report = json.loads(out.read_text())
    meta = report["meta"]
    assert meta["concurrency"] == [1, 2] and meta["requests"] == 4
    assert isinstance(meta["cuda_available"], bool) and meta["providers"]
    assert list(report["images"]) == ["0.25MP", "imgs", "eval-mix"]
    assert report["images"]["eval-mix"]["count"] == 3
    assert set(report["servers"]) == {"humancut"}
    hc = report["servers"]["humancut"]
    assert positive(hc["idle_rss_mb"]) and positive(hc["peak_rss_mb"])
    for label in ("0.25MP", "imgs", "eval-mix"):
        group = hc["groups"][label]
        assert positive(group["bare_ms"]) and positive(group["inproc_full_ms"])
        assert set(group["levels"]) == {"1", "2"}
        for level in group["levels"].values():
            assert level["ok"] == 4 and level["errors"] == 0
            for name in ("p50_ms", "p95_ms", "mean_ms", "answer_p50_ms", "throughput_ips",
                         "cpu_s_per_image", "peak_rss_mb"):
                assert positive(level[name]), (label, name, level[name])
            assert level["p95_ms"] >= level["p50_ms"]
    verdicts = {t["name"]: t["verdict"] for t in report["targets"]}
    assert len(verdicts) == 5 and set(verdicts.values()) <= {"PASS", "FAIL", "SKIP"}
