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
from ..settings import Settings
from ..video import is_video_file
from . import video
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
    if args.inputs == ["-"]:
        data = sys.stdin.buffer.read()
        if video.is_video_data(data):
            return video.cut_stdin(args, settings, data)
        video.refuse_video_ending_for_photos(args.output, photos=True)
        return _cut_stream(args, settings, data, fmt, out)
    clips = [i for i in args.inputs if Path(i).is_file() and is_video_file(i)]
    if clips and len(args.inputs) == 1:
        return video.cut_one(args, settings, Path(clips[0]))
    video.refuse_video_ending_for_photos(args.output, photos=not several)
    photo_form = _photo_form(args.form)
    if to_stdout:
        return _cut_stream(args, settings, Path(args.inputs[0]).read_bytes(), fmt, out)
    return _cut_batch(args, settings, [i for i in args.inputs if i not in clips], clips, out,
                      fmt, photo_form)


def _photo_form(form: str | None) -> str:
    if form in video.FORMS and form not in imageops.FORMS:
        raise ValueError(f"--form {form} is for videos; a photo takes "
                         f"{', '.join(imageops.FORMS)}")
    return form or "rgba"


def _cut_stream(args: argparse.Namespace, settings: Settings, data: bytes, fmt: str,
                out: Path | None) -> int:
    """One photo from stdin or to stdout (or -o FILE)."""
    remover = Remover(settings)
    rgb = remover.load(data)
    result = remover.encode(rgb, remover.matte(rgb), _photo_form(args.form), fmt).data
    if out:
        batch.write_atomic(out, result)
    else:
        sys.stdout.buffer.write(result)
    return 0


def _cut_batch(args: argparse.Namespace, settings: Settings, inputs: list[str],
               clips: list[str], out: Path | None, fmt: str, form: str) -> int:
    """Photos and clips named or found in folders: the photos first (three overlapping
    stages), then each clip."""
    folders = [i for i in inputs if Path(i).is_dir()]
    clip_jobs = video.jobs_in(clips + folders, out, video.video_form(
        args, None, mixed=True)) if clips or folders else []
    jobs, not_images = batch.list_jobs(inputs, out, fmt) if inputs else ([], [])
    found = {src for src, _ in clip_jobs}
    not_images = [p for p in not_images if p not in found]
    if not jobs and not clip_jobs:
        print("humancut: no images found (looked for "
              f"{', '.join(IMAGE_SUFFIXES)}, and videos by their content)", file=sys.stderr)
        return 2
    status = 0
    if jobs:
        remover = Remover(settings)
        remover.model  # load once, before the progress bar starts  # noqa: B018
        failures = _cut_local(remover, jobs, form, fmt, args.quiet)
        where = jobs[0][1] if len(jobs) == 1 else jobs[0][1].parent
        status = batch.summarize(len(jobs), failures, where, quiet=args.quiet,
                                 not_images=not_images)
    if clip_jobs:
        failed = video.cut_many(args, settings, clip_jobs, video.video_form(
            args, None, mixed=True))
        if not args.quiet:
            print(f"{len(clip_jobs) - len(failed)} of {len(clip_jobs)} videos cut",
                  file=sys.stderr)
        for src, why in failed:
            print(f"failed: {src}: {why}", file=sys.stderr)
        status = status or (1 if failed else 0)
    return status


def _cut_on_ray(args: argparse.Namespace) -> int:
    """One INPUT, one -o OUTPUT, each a folder or s3://bucket/prefix, on Ray Data
    (humancut[ray])."""
    src, out = args.inputs[0] if len(args.inputs) == 1 else "", args.output
    if not src or not out or out == "-" or not (is_s3(src) or Path(src).is_dir()):
        print("humancut: cut --ray takes one INPUT and -o OUTPUT, each a folder or "
              "s3://bucket/prefix", file=sys.stderr)
        return 2
    from ..raybulk import cut_location

    return cut_location(settings_from(args), src, out, _photo_form(args.form), quiet=args.quiet)


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
    p.add_argument("--form", choices=list(dict.fromkeys(imageops.FORMS + video.FORMS)),
                   help="photos: rgba (default), mask, whiteBK, crop; videos: webm "
                        "(default), mov, png_zip, mask, whiteBK (docs/video.md)")
    p.add_argument("--bg-color", help="videos: the colour (hex) of the whiteBK form")
    p.add_argument("--force", action="store_true",
                   help="videos: overwrite an output file that exists")
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
