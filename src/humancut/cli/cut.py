"""`humancut cut`, `humancut eval` and `humancut models`: the commands that run the model
in this process (or, `cut --ray`, on Ray Data)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .. import batch, engine, imageops
from ..errors import ModelFileError
from ..evaluate import evaluate
from ..imageops import IMAGE_SUFFIXES
from ..location import is_s3
from ..remover import Remover
from .evalvideo import cmd_eval_video, video_flags
from .flags import engine_flags, need_extra, ray_flags, settings_from

# Settings never written into reports.
SECRETS = ("admin_token",)


def _cut_local(remover: Remover, jobs: list[tuple[Path, Path]], form: str, fmt: str,
               quiet: bool) -> list[tuple[Path, str]]:
    """This process cuts them all, decoding and writing beside the model (humancut.batch)."""
    bar = tqdm(total=len(jobs), unit="img", disable=len(jobs) < 2 or quiet, file=sys.stderr)
    with bar:
        def done(src: Path) -> None:
            bar.set_postfix_str(src.name, refresh=False)
            bar.update(1)

        return batch.cut_all(remover, jobs, form, done, fmt)


def output_format(requested: str | None, output: str | None) -> str:
    """--format, else what -o FILE's ending names, else PNG; a ValueError when the two
    disagree (PNG bytes under a .jpg name help no one)."""
    named = batch.format_of(output) if output and output != "-" else None
    if requested and named and requested != named:
        raise ValueError(f"--format {requested} but -o {output} names a {named} file; "
                         "drop one or make them agree")
    return requested or named or "png"


def cmd_cut(args: argparse.Namespace) -> int:
    if args.ray:
        need_extra("ray", "cut --ray")
        return _cut_on_ray(args)
    settings = settings_from(args)  # a bad setting stops here, before anything is read
    fmt = output_format(args.format, args.output)
    to_stdout = args.output == "-"
    out = Path(args.output) if args.output and not to_stdout else None
    if any(is_s3(name) for name in [*args.inputs, args.output or ""]):
        print("humancut: s3:// locations need --ray", file=sys.stderr)
        return 2
    if "-" in args.inputs and len(args.inputs) > 1:
        print("humancut: - (stdin) must be the only INPUT", file=sys.stderr)
        return 2
    several = len(args.inputs) > 1 or any(Path(i).is_dir() for i in args.inputs)
    if to_stdout and several:
        print("humancut: -o - (stdout) takes one input file; give a folder for several",
              file=sys.stderr)
        return 2
    missing = [i for i in args.inputs if i != "-" and not Path(i).exists()]
    if missing:
        print(f"humancut: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    remover = Remover(settings)
    if args.inputs == ["-"] or to_stdout:
        data = sys.stdin.buffer.read() if args.inputs == ["-"] else Path(
            args.inputs[0]).read_bytes()
        rgb = remover.load(data)
        result = remover.encode(rgb, remover.matte(rgb), args.form, fmt).data
        if out:
            batch.write_atomic(out, result)
        else:
            sys.stdout.buffer.write(result)
        return 0
    jobs, not_images = batch.list_jobs(args.inputs, out, fmt)
    if not jobs:
        print("humancut: no images found (looked for "
              f"{', '.join(IMAGE_SUFFIXES)})", file=sys.stderr)
        return 2
    remover.model  # load once, before the progress bar starts  # noqa: B018
    failures = _cut_local(remover, jobs, args.form, fmt, args.quiet)
    where = jobs[0][1] if len(jobs) == 1 else jobs[0][1].parent
    return batch.summarize(len(jobs), failures, where, quiet=args.quiet,
                           not_images=not_images)


def _cut_on_ray(args: argparse.Namespace) -> int:
    """One INPUT, one -o OUTPUT, each a folder or s3://bucket/prefix, on Ray Data
    (humancut[ray])."""
    src, out = args.inputs[0] if len(args.inputs) == 1 else "", args.output
    if not src or not out or out == "-" or not (is_s3(src) or Path(src).is_dir()):
        print("humancut: cut --ray takes one INPUT and -o OUTPUT, each a folder or "
              "s3://bucket/prefix", file=sys.stderr)
        return 2
    from ..raybulk import cut_location

    return cut_location(settings_from(args), src, out, args.form, quiet=args.quiet)


# ---- eval ------------------------------------------------------------------------------

def cmd_eval(args: argparse.Namespace) -> int:
    if args.video or args.composites:
        return cmd_eval_video(args)
    if args.images_dir is None or args.alpha_dir is None:
        raise ValueError("eval needs IMAGES_DIR and ALPHA_DIR, or --video DIR, or --composites")
    remover = Remover(settings_from(args))
    remover.model  # noqa: B018 - load before timing
    with tqdm(unit="img", disable=args.quiet, file=sys.stderr) as bar:
        report = evaluate(remover, args.images_dir, args.alpha_dir, progress=bar.update)
    m = report.means
    print(f"{args.images_dir}: {report.images} images, {report.images_per_second:.2f} images/s")
    print(f"  IoU    {m['iou']:.4f}\n  SAD    {m['sad']:.3f}\n  MSE    {m['mse']:.5f}\n"
          f"  MAD    {m['mad']:.5f}\n  Grad   {m['grad']:.3f}\n  edgeMAD {m['edge_mad']:.4f}\n"
          f"  falsePartial {m['false_partial'] * 100:.3f} %")
    if args.json:
        used = {k: str(v) if isinstance(v, Path) else v
                for k, v in dataclasses.asdict(remover.settings).items()
                if k not in SECRETS}
        data = report.as_dict() | {"settings": used}
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 0


# ---- models ----------------------------------------------------------------------------

def cmd_models(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    names = [args.name] if getattr(args, "name", None) else sorted(engine.MODELS)
    for name in names:
        cls = engine.model_class(name)
        if args.action == "fetch":
            try:
                print(engine.locate(cls.file, settings.model_dir))
                print(f"{name}: already fetched (sha256 checked)", file=sys.stderr)
                continue
            except ModelFileError:
                pass  # absent (or corrupt): fetch it
            print(f"fetching {name} from {cls.file.source.describe()} ...", file=sys.stderr)
            print(engine.fetch(cls.file, settings.model_dir))
        else:
            try:
                state = str(engine.locate(cls.file, settings.model_dir))
            except ModelFileError:
                state = "not fetched"
            print(f"{name}\t{cls.file.license}\t{cls.file.sha256[:12]}\t{state}")
    return 0


def add_cut(sub: Any) -> None:
    p = sub.add_parser("cut", help="cut people out of images, folders or stdin")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders, or - for stdin")
    p.add_argument("-o", "--output", help="output file or folder (- for stdout)")
    p.add_argument("--form", default="rgba", choices=imageops.FORMS)
    p.add_argument("--format", choices=list(batch.FORMATS),
                   help="png (default), jpg (flattened on white) or webp; default: what -o "
                        "FILE's ending names")
    p.add_argument("-q", "--quiet", action="store_true")
    engine_flags(p)
    ray_flags(p)
    p.add_argument("--s3-endpoint-url",
                   help="with --ray, for s3:// INPUT or OUTPUT: an S3-compatible service "
                        "(default: AWS; credentials from the AWS_* variables)")
    p.set_defaults(func=cmd_cut)


def add_eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="quality report against labelled alpha mattes "
                                    "(photos; --video/--composites: clips)")
    p.add_argument("images_dir", type=Path, nargs="?")
    p.add_argument("alpha_dir", type=Path, nargs="?")
    p.add_argument("--json", type=Path, help="also write the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true")
    engine_flags(p)
    video_flags(p)
    p.set_defaults(func=cmd_eval)


def add_models(sub: Any) -> None:
    p = sub.add_parser("models", help="list or fetch model files")
    p.add_argument("action", choices=["list", "fetch"])
    p.add_argument("name", nargs="?", help="one model (default: all)")
    p.add_argument("--model-dir", type=Path)
    p.set_defaults(func=cmd_models)
