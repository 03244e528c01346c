"""`humancut bench`: a humancut server against a rembg server, measured in one run.

Both servers run as subprocesses on free ports and are called over HTTP by a bounded
asyncio client. For each image group (generated astronaut JPEGs of given megapixels, a
folder given with --images, and a few labelled photos of --eval-dir / $HUMANCUT_EVAL_DIR)
it measures latency percentiles and throughput at each concurrency level, the peak RSS of
each server's process tree, the server's CPU seconds per image, and the bare in-process
model time of the same images. For humancut an optional soak run measures RSS growth.

Latency is from sending the request until the cut-out PNG is in the client's hands:
for humancut the POST plus the GET of `data.image_url`, for rembg the POST (its answer is
the PNG). rembg runs from its own virtual environment (never humancut's) with the u2netp
model, which is taken from a PyPI wheel because rembg's own download cannot work offline.

Modules: photos (the images), servers (the server processes, shared with the tests),
process (RSS and CPU of a process tree), load (the client, levels, soak), bare (in-process
time), rembg (its venv and model), report (targets and the table).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..settings import Settings
from .bare import bare_humancut
from .frontier import plot, render_frontier
from .load import bench_server, percentile
from .photos import ASTRONAUT, ImageGroup, build_groups, eval_dir_from, scaled_jpeg
from .quality import score_server
from .rembg import REMBG_VENV, U2NETP, bare_rembg, ensure_rembg
from .report import finish, new_report, onnx_providers, render_table, targets
from .servers import HumancutProcess, HumancutServer, RembgServer, ServerProcess

DEFAULT_SIZES = (0.25, 1.0, 2.0, 3.9)
DEFAULT_CONCURRENCY = (1, 2, 4, 8)


def _providers(device: str, say: Callable[[str], None]) -> list[str]:
    """onnxruntime's providers; refuses --device cuda without CUDA rather than measure CPU."""
    providers = onnx_providers()
    cuda = "CUDAExecutionProvider" in providers
    if device == "cuda" and not cuda:
        raise ValueError("--device cuda, but onnxruntime has no CUDAExecutionProvider here "
                         f"(providers: {', '.join(providers)})")
    say(f"onnxruntime providers: {', '.join(providers)}"
        + ("" if cuda else " - no CUDA available, CPU only"))
    return providers


def _describe(groups: Sequence[ImageGroup], say: Callable[[str], None]) -> None:
    for g in groups:
        say(f"images {g.label}: {len(g.images)} file(s), "
            + ", ".join(f"{w}x{h}" for w, h in g.sizes[:4])
            + f", {g.describe()['mean_bytes'] / 1024:.0f} KiB mean")


def _bare_one(device: str, reps: int, remover: Any, group: ImageGroup) -> dict[str, Any]:
    return bare_humancut([group], device, reps, remover)[group.label]


def _servers(report: dict[str, Any], groups: list[ImageGroup], *, vs_rembg: bool,
             concurrency: Sequence[int], requests: int, soak_n: int, device: str,
             bare_reps: int, say: Callable[[str], None], presets: Sequence[str | None],
             quality_dir: Path | None) -> None:
    """humancut (once per preset), then rembg: one at a time, so none measures another's
    load. One preset is reported as "humancut", several as "humancut <preset>"."""
    from ..remover import Remover

    quality = (lambda srv: score_server(srv, quality_dir)) if quality_dir else None
    with tempfile.TemporaryDirectory(prefix="humancut-bench-") as tmp:
        work = Path(tmp)
        for preset in presets:
            remover = Remover(Settings.from_env(device=device, preset=preset))
            name = "humancut" if len(presets) == 1 else f"humancut {preset}"
            report["servers"][name] = bench_server(
                HumancutServer(work, device, preset), groups, concurrency, requests, soak_n,
                say, partial(_bare_one, device, bare_reps, remover),
                quality)
            report["servers"][name]["preset"] = remover.settings.preset
        if vs_rembg:
            report["servers"]["rembg"] = bench_server(
                RembgServer(work), groups, concurrency, requests, 0, say,
                lambda g: bare_rembg([g], bare_reps, work)[g.label], quality)


def run(*, vs_rembg: bool, concurrency: Sequence[int], requests: int, json_path: Path | None,
        images_dir: Path | None, sizes: Sequence[float], soak_n: int, device: str,
        eval_dir: Path | None = None, bare_reps: int = 3,
        say: Callable[[str], None] | None = None, presets: Sequence[str | None] = (None,),
        quality: bool = False, plot_path: Path | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the report (and writes it to json_path).

    `eval_dir` None means $HUMANCUT_EVAL_DIR, and no eval-mix group when that is unset.
    `presets`: one humancut server each (None: the environment's). `quality`: score each
    server on the labelled sets of the eval dir. `plot_path`: the frontier plot (PNG)."""
    say = say or (lambda s: print(s, file=sys.stderr, flush=True))
    providers = _providers(device, say)
    groups = build_groups(sizes, images_dir, eval_dir_from(eval_dir))
    _describe(groups, say)
    report = new_report(groups, providers=providers, device=device, requests=requests,
                        concurrency=concurrency, soak_n=soak_n, vs_rembg=vs_rembg)
    quality_dir = eval_dir_from(eval_dir) if quality else None
    if quality and quality_dir is None:
        raise ValueError("--quality needs --eval-dir (or HUMANCUT_EVAL_DIR): the labelled sets")
    _servers(report, groups, vs_rembg=vs_rembg, concurrency=concurrency, requests=requests,
             soak_n=soak_n, device=device, bare_reps=bare_reps, say=say, presets=presets,
             quality_dir=quality_dir)
    finish(report)
    if plot_path is not None:
        plot(report, plot_path)
    if json_path is not None:
        json_path.write_text(json.dumps(report, indent=2))
    return report


def parse_list(text: str, kind: type) -> list[Any]:
    """Comma-separated values: "1, 2,4" -> [1, 2, 4]; "" -> []."""
    return [kind(x) for x in text.replace(" ", "").split(",") if x]


__all__ = ["ASTRONAUT", "DEFAULT_CONCURRENCY", "DEFAULT_SIZES", "REMBG_VENV", "U2NETP",
           "HumancutProcess", "HumancutServer", "ImageGroup", "RembgServer", "ServerProcess",
           "build_groups", "ensure_rembg", "parse_list", "percentile", "plot", "render_frontier",
           "render_table", "run",
           "scaled_jpeg", "targets"]
