"""The quality-per-CPU frontier of a bench report: one row per server (each humancut preset,
rembg) with its 1 MP throughput, latency and CPU cost beside its quality on the labelled
sets, and a plot of portrait SAD against images per second."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .photos import size_label
from .report import _aligned, _fmt

ONE_MP = size_label(1.0)


def _level(server: dict[str, Any], c: int) -> dict[str, Any]:
    groups = server.get("groups", {})
    group: dict[str, Any] = groups.get(ONE_MP) or next(iter(groups.values()), {})
    return group.get("levels", {}).get(str(c), {})


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per server: img/s at c1 and c4, p95 at c1, CPU s/img at c1 and c4, and quality."""
    out = []
    rembg = _level(report["servers"].get("rembg", {}), 4).get("throughput_ips")
    for name, server in report["servers"].items():
        c1, c4 = _level(server, 1), _level(server, 4)
        q = server.get("quality", {})
        pm, pp = q.get("portrait-mattes", {}), q.get("people-masks", {})
        out.append({"server": name, "ips_c1": c1.get("throughput_ips"),
                    "ips_c4": c4.get("throughput_ips"), "p95_c1_ms": c1.get("p95_ms"),
                    "x_rembg_c4": c4["throughput_ips"] / rembg
                    if rembg and c4.get("throughput_ips") else None,
                    "cpu_c1": c1.get("cpu_s_per_image"), "cpu_c4": c4.get("cpu_s_per_image"),
                    "pm_sad": pm.get("sad"), "pm_mse": pm.get("mse"),
                    "pp_iou": pp.get("iou"), "pp_sad": pp.get("sad")})
    return out


def render_frontier(report: dict[str, Any]) -> str:
    head = ["server", "img/s c1", "img/s c4", "x rembg c4", "p95 c1 ms", "cpu s/img c1",
            "cpu s/img c4", "portrait SAD", "portrait MSE", "people IoU", "people SAD"]
    table = [head]
    for r in rows(report):
        table.append([r["server"], _fmt(r["ips_c1"], ".2f"), _fmt(r["ips_c4"], ".2f"),
                      _fmt(r["x_rembg_c4"], ".2f"),
                      _fmt(r["p95_c1_ms"]), _fmt(r["cpu_c1"], ".3f"), _fmt(r["cpu_c4"], ".3f"),
                      _fmt(r["pm_sad"], ".2f"), _fmt(r["pm_mse"], ".5f"),
                      _fmt(r["pp_iou"], ".4f"), _fmt(r["pp_sad"], ".2f")])
    return "\n".join([f"frontier ({ONE_MP} photos; quality over HTTP on the labelled sets):",
                      *_aligned(table)])


def plot(report: dict[str, Any], path: Path) -> Path:
    """Portrait-mattes SAD against 1 MP images/second at concurrency 4 (c1 when c4 was not
    measured): lower right is better. Servers without quality figures are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for r in rows(report):
        ips = r["ips_c4"] or r["ips_c1"]
        if r["pm_sad"] is None or ips is None:
            continue
        colour = "tab:red" if r["server"].startswith("rembg") else "tab:blue"
        ax.scatter([ips], [r["pm_sad"]], color=colour, s=40)
        ax.annotate(r["server"].removeprefix("humancut "), (ips, r["pm_sad"]),
                    textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.set_xlabel(f"images/second, {ONE_MP} photos, concurrency 4 (higher is better)")
    ax.set_ylabel("portrait-mattes SAD (lower is better)")
    meta = report.get("meta", {})
    ax.set_title(f"humancut presets and rembg u2netp, {meta.get('cpu_count', '?')} CPU cores",
                 fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
