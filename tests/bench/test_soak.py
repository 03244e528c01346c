"""`humancut bench soak` run for a few seconds against a real server on loopback: the
table has its fields and the calls got the answers they expect. No timing thresholds."""

from __future__ import annotations

import io
import math

from PIL import Image

from humancut.bench import soak


def test_the_cycle_mixes_families_forms_and_bad_inputs():
    cycle = soak.specs()
    assert {s.family for s in cycle} == {"ailab", "hd", "removebg"}
    assert {s.fields.get("return_form") for s in cycle if s.family == "ailab"} == {
        None, "mask", "whiteBK", "crop"}
    assert any(s.expect >= 400 for s in cycle) and any(s.expect == 200 for s in cycle)
    sizes = [Image.open(io.BytesIO(d)).size for _, d in soak.photos()]
    mp = [w * h / 1e6 for w, h in sizes]
    assert min(mp) < 0.2 and max(mp) > 3.5


def test_a_short_soak_fills_its_table(tmp_path):
    report = soak.run(minutes=0.25, concurrency=2, interval=5.0, say=lambda s: None)
    table = report["table"]
    assert len(table) >= 3
    fields = {"minute", "calls", "ok", "refused_4xx", "failed_5xx", "no_answer", "rss_peak_mb",
              "unexpected", "p50_ms", "p99_ms", "rss_mb", "fds", "threads"}
    for row in table:
        assert fields <= set(row)
        assert row["rss_mb"] > 50 and row["fds"] > 3 and row["threads"] >= 2
    assert report["calls"] >= sum(r["calls"] for r in table) > 0
    assert sum(r["ok"] for r in table) > 0 and sum(r["refused_4xx"] for r in table) > 0
    assert sum(r["failed_5xx"] + r["no_answer"] + r["unexpected"] for r in table) == 0
    verdict = report["verdict"]
    assert {"rss_growth_pct", "p99_ratio", "fds_range", "threads_range", "met"} <= set(verdict)
    assert math.isfinite(verdict["rss_growth_pct"])
    text = soak.render(report)
    assert "rss_mb" in text and "p99" in text
    png = soak.plot(report, tmp_path / "soak.png")
    assert Image.open(png).size[0] > 300
