"""`humancut bench`: the load bench against rembg, the request flow's own cost, and Ray."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..presets import PRESETS
from .flags import backend_flags, settings_from, shared_backend_flags


def cmd_bench(args: argparse.Namespace) -> int:
    from .. import bench

    if args.video_api:
        from ..bench import videoapi

        print(videoapi.render(videoapi.run(args.video_seconds, queued=args.video_queued,
                                           say=lambda s: print(s, file=sys.stderr))))
        return 0
    if args.kind == "memory":
        return _bench_memory(args)
    if args.kind == "soak":
        return _bench_soak(args)
    if args.kind == "video":
        return _bench_video(args)
    if args.flow:
        from ..bench import flow

        settings = settings_from(args)
        shared = settings if settings.keys_url or settings.limits_url or settings.results_url \
            else None
        print(flow.render(flow.run(shared, args.requests)))
        return 0
    if args.ray:
        return _bench_ray(args)
    report = bench.run(vs_rembg=args.vs_rembg,
                       concurrency=_levels(args, bench.DEFAULT_CONCURRENCY),
                       requests=args.requests, json_path=args.json, images_dir=args.images,
                       sizes=bench.parse_list(args.sizes, float), soak_n=args.soak,
                       device=args.device, eval_dir=args.eval_dir,
                       presets=bench.parse_list(args.presets, str) if args.presets
                       else [args.preset], quality=args.quality, plot_path=args.plot)
    print(bench.render_table(report))
    print()
    print(bench.render_frontier(report))
    if args.plot:
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.json:
        print(f"report written to {args.json}", file=sys.stderr)
    return 0


def _levels(args: argparse.Namespace, default: Sequence[int]) -> Sequence[int]:
    from ..bench import parse_list

    return parse_list(args.concurrency, int) if args.concurrency else default


def _bench_memory(args: argparse.Namespace) -> int:
    from ..bench import memory

    report = memory.run(workers=args.workers or 2, calls=args.calls, device=args.device,
                        before_src=args.before_src,
                        say=lambda s: print(s, file=sys.stderr, flush=True))
    print(memory.render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"report written to {args.json}", file=sys.stderr)
    return 0


def _bench_soak(args: argparse.Namespace) -> int:
    from ..bench import soak

    levels = _levels(args, [8])
    if len(levels) != 1:
        raise SystemExit("bench soak takes one --concurrency level")
    env = {"HUMANCUT_WORKERS": str(args.workers)} if args.workers else {}
    report = soak.run(minutes=args.minutes, concurrency=levels[0], interval=args.interval,
                      device=args.device, env=env,
                      say=lambda s: print(s, file=sys.stderr, flush=True))
    print(soak.render(report))
    if args.plot:
        soak.plot(report, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.json:
        soak.save(report, args.json)
        print(f"report written to {args.json}", file=sys.stderr)
    return 0 if report["verdict"]["met"] else 1


def _bench_ray(args: argparse.Namespace) -> int:
    from ..bench import ray as ray_bench

    report = ray_bench.run(images_dir=args.images, requests=args.requests,
                           concurrency=_levels(args, ray_bench.DEFAULT_CONCURRENCY),
                           json_path=args.json, ray_address=args.ray_address or "")
    print(ray_bench.render(report))
    if args.json:
        print(f"report written to {args.json}", file=sys.stderr)
    return 0


def _bench_video(args: argparse.Namespace) -> int:
    from ..bench import parse_list
    from ..bench.video import bench_video, render

    if args.seams:
        return _bench_seams(args)
    json_path = Path("video-bench.json") if args.json == Path("bench.json") else args.json
    report = bench_video(
        eval_dir=args.eval_dir, davis=args.davis, composites=args.composites,
        frames=args.frames, speed_frames=args.speed_frames, long=args.long,
        workers=args.workers or 0,
        forms=tuple(parse_list(args.forms, str)) if args.forms else (),
        only=tuple(w.strip() for w in args.only.split(",") if w.strip()) if args.only else (),
        json_path=json_path, plot_path=args.plot,
        say=lambda s: print(s, file=sys.stderr, flush=True))
    print(render(report))
    print(f"report written to {json_path}", file=sys.stderr)
    return 0


def _bench_seams(args: argparse.Namespace) -> int:
    import tempfile

    from ..bench.video import clips_for
    from ..bench.videoseams import render_seams, seams

    with tempfile.TemporaryDirectory(prefix="humancut-seams-") as tmp:
        clips = [c for c in clips_for(args.eval_dir, args.davis, args.composites, args.frames,
                                      False, Path(tmp)) if c.labelled is not None]
        print(render_seams(seams(clips, args.workers or 2, Path(tmp))))
    return 0


def _video_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("bench video")
    g.add_argument("--davis", type=int, default=0, metavar="N",
                   help="video: the first N DAVIS clips of --eval-dir/video/davis (0: all)")
    g.add_argument("--composites", type=int, default=0, metavar="N",
                   help="video: the first N composite clips built from "
                        "--eval-dir/portrait-mattes (0: all, -1: none)")
    g.add_argument("--frames", type=int, default=0, metavar="N",
                   help="video: score the labelled clips' first N frames only (0: whole)")
    g.add_argument("--speed-frames", type=int, default=0, metavar="N",
                   help="video: the 720p clip's first N frames only (0: all 200)")
    g.add_argument("--long", action="store_true",
                   help="video: also a 60 s 1080p clip through humancut (the memory target)")
    g.add_argument("--forms", metavar="LIST",
                   help="video: humancut's output forms to run (default: all five)")
    g.add_argument("--seams", action="store_true",
                   help="video: instead, flicker at chunk seams against elsewhere and against "
                        "one pass (parallel chunks), on the labelled clips")
    g.add_argument("--only", metavar="LIST",
                   help="video: only the contestants whose name holds one of these words")


def add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmark a humancut server (against rembg)")
    p.add_argument("kind", nargs="?", choices=["load", "memory", "soak", "video"],
                   default="load", help="load: latency and throughput (default); video: the "
                   "video path against its peers (docs/video.md); memory: peak RSS on "
                        "36 MP photos (HD route, remove.bg size=full, --calls at once); "
                        "soak: mixed traffic for --minutes, sampled each minute")
    p.add_argument("--minutes", type=float, default=15.0, help="soak: how long (default 15)")
    p.add_argument("--interval", type=float, default=60.0,
                   help="soak: seconds between samples (default 60: one row a minute)")
    p.add_argument("--workers", type=int,
                   help="memory, soak: the server's workers (memory: default 2; soak: default "
                        "the server's); video: remove_video's (default: the settings')")
    p.add_argument("--calls", type=int, default=8, help="memory: HD calls at once (default 8)")
    p.add_argument("--before-src", type=Path, metavar="DIR",
                   help="memory: also measure the server of another checkout's src/ (e.g. "
                        "../main/src) and time single calls taking turns with it")
    p.add_argument("--vs-rembg", action="store_true",
                   help="also run `rembg s` (u2netp) from its own venv and compare")
    p.add_argument("--concurrency", help="levels (default 1,2,4,8; with --ray 1,4,8)")
    p.add_argument("--requests", type=int, default=20, help="requests per level and size")
    p.add_argument("--json", type=Path, default=Path("bench.json"), help="report file")
    p.add_argument("--images", type=Path, help="a folder of images to send as one more group")
    p.add_argument("--eval-dir", type=Path, metavar="DIR",
                   help="labelled sets (<set>/images, as `humancut eval` reads) or a folder of "
                   "photos: a few of each as the eval-mix group (default: $HUMANCUT_EVAL_DIR; "
                   "neither: no such group)")
    p.add_argument("--sizes", default="0.25,1,2,3.9",
                   help="megapixels of generated JPEGs ('' for none)")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="N requests to measure RSS growth (0 = skip; 2000 for the full figure)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="the humancut server's preset (default: $HUMANCUT_PRESET or balanced)")
    p.add_argument("--presets", metavar="LIST",
                   help="one humancut server per preset, e.g. fast,balanced,best")
    p.add_argument("--quality", action="store_true",
                   help="score every server on the labelled sets of --eval-dir, over HTTP")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="save the frontier plot (portrait SAD against img/s at c4)")
    p.add_argument("--flow", action="store_true",
                   help="instead: the request flow's own cost (model excluded) on the embedded "
                        "backends and, when given, on --keys-url/--limits-url/--results-url")
    p.add_argument("--ray", action="store_true",
                   help="instead: `serve --ray` against the plain server and `cut --ray` "
                        "against the local batch, on --images (default: the astronaut); "
                        "humancut[ray], docs/ray.md")
    p.add_argument("--ray-address", metavar="HOST:PORT",
                   help="with --ray: the Ray app and `cut --ray` join this cluster (which "
                        "should have 2 CPUs in all) instead of a Ray started for each")
    _video_flags(p)
    p.add_argument("--video-api", action="store_true",
                   help="instead: a clip over HTTP to task_status 2 against remove_video in "
                        "process, and photo p50 with video tasks queued (docs/video.md)")
    p.add_argument("--video-seconds", type=float, default=10.0,
                   help="with --video-api: the 720p clip's length")
    p.add_argument("--video-queued", type=int, default=20,
                   help="with --video-api: video tasks queued while photos are timed")
    backend_flags(p)
    shared_backend_flags(p)
    p.set_defaults(func=cmd_bench)
