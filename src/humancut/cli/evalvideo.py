"""`humancut eval --video DIR` and `humancut eval --composites`: the video quality report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from .. import videoeval
from ..videoeval.composites import Plan
from .flags import settings_from

DEFAULT_SYSTEMS = "humancut,rvm,stills"
DEFAULT_MATTES = Path("../shared/eval/portrait-mattes")


def eval_cache() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "humancut" / "eval"


def folder_of(args: argparse.Namespace) -> Path:
    """The labelled folder: --video DIR as it is, or the composite clips, built on first use."""
    if args.video:
        return Path(args.video)
    plan = Plan(width=args.composite_size[0], height=args.composite_size[1],
                frames=args.composite_frames, seed=args.seed)
    if not args.quiet:
        print(f"composite clips: {plan.folder(args.cache_dir)}", file=sys.stderr)
    return videoeval.build(args.mattes, args.cache_dir, plan)


def cmd_eval_video(args: argparse.Namespace) -> int:
    settings = settings_from(args)  # a bad setting stops here, before anything is read
    specs = system_list(args.systems)
    for spec in specs:
        videoeval.system(spec)  # an unknown system stops here too
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError("--max-frames must be at least 1")
    folder = folder_of(args)
    clips = videoeval.labelled_clips(folder, args.clips.split(",") if args.clips else None)

    def say(what: str) -> None:
        if not args.quiet:
            print(f"  {what}", file=sys.stderr, flush=True)

    report = videoeval.evaluate_clips(clips, specs, settings, max_frames=args.max_frames,
                                      folder=str(folder), progress=say)
    print(f"{folder}: {len(clips)} clips (MAD, MSE x1e3; dtSSD x1e2; J mean IoU; MAD15: "
          "first 15 frames; empty%: pixels > 0.5 in frames with nobody)")
    print(videoeval.table(report))
    if args.json:
        data: dict[str, Any] = report.as_dict() | {"max_frames": args.max_frames}
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 0


def system_list(text: str) -> list[str]:
    """`humancut,rvm:size=384,warmup=15,stills` -> humancut, rvm:size=384,warmup=15, stills:
    an item with `=` and no `:` is one more option of the system before it."""
    specs: list[str] = []
    for item in (s.strip() for s in text.split(",")):
        if "=" in item and ":" not in item and specs:
            specs[-1] += "," + item
        elif item:
            specs.append(item)
    return specs


def size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    if not (w.isdigit() and h.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: give WIDTHxHEIGHT, e.g. 854x480")
    return int(w), int(h)


def video_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video (instead of IMAGES_DIR ALPHA_DIR; docs/video.md#quality)")
    one = g.add_mutually_exclusive_group()
    one.add_argument("--video", type=Path, metavar="DIR",
                     help="score clips with labels: DIR/<name>.mp4 and DIR/<name>/00000.png...")
    one.add_argument("--composites", action="store_true",
                     help="build (once, cached) and score composite clips with soft alpha")
    g.add_argument("--systems", default=DEFAULT_SYSTEMS,
                   help="comma-separated: humancut (the video path), rvm (the RVM reference; "
                        "rvm:size=384,warmup=15,cleanup=1 for variants), stills (the stills "
                        f"engine per frame, slow); default {DEFAULT_SYSTEMS}")
    g.add_argument("--clips", help="comma-separated clip names (default: all)")
    g.add_argument("--max-frames", type=int, help="score only each clip's first N frames")
    g.add_argument("--mattes", type=Path, default=DEFAULT_MATTES,
                   help=f"portrait-mattes set for --composites (default {DEFAULT_MATTES})")
    g.add_argument("--cache-dir", type=Path, default=eval_cache(),
                   help="where composite clips are kept (default ~/.cache/humancut/eval)")
    g.add_argument("--composite-size", type=size, default=(854, 480), metavar="WxH")
    g.add_argument("--composite-frames", type=int, default=60)
    g.add_argument("--seed", type=int, default=27, help="composite clips' seed")
