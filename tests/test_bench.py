"""`humancut bench` on a tiny setting: the report has its fields and sane numbers.
No timing thresholds here: the figures depend on the machine."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys

import pytest
from PIL import Image

from conftest import FIXTURES
from humancut.bench import percentile, scaled_jpeg

HUMANCUT = [sys.executable, "-m", "humancut.cli"]


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


def test_bench_tiny_run_writes_a_complete_report(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "a.jpg").write_bytes((FIXTURES / "astronaut.jpg").read_bytes())
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [*HUMANCUT, "bench", "--requests", "4", "--concurrency", "1,2", "--sizes", "0.25",
         "--images", str(images), "--json", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "targets:" in done.stdout and "humancut" in done.stdout

    report = json.loads(out.read_text())
    meta = report["meta"]
    assert meta["concurrency"] == [1, 2] and meta["requests"] == 4
    assert isinstance(meta["cuda_available"], bool) and meta["providers"]
    assert set(report["images"]) == {"0.25MP", "imgs"}
    assert set(report["servers"]) == {"humancut"}
    hc = report["servers"]["humancut"]
    assert positive(hc["idle_rss_mb"]) and positive(hc["peak_rss_mb"])
    for label in ("0.25MP", "imgs"):
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
