"""`humancut cut` for clips: a video is recognised by its content (the container's first
bytes), never by its name; one clip, stdin, or the clips found in folders beside photos.
Outputs never overwrite an existing file unless --force, and an output ending that does not
fit the input is refused before anything is cut."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from .. import batch
from ..errors import HumancutError
from ..settings import Settings
from ..video import (
    FORMS,
    SUFFIXES,
    VideoSummary,
    is_video_file,
    remove_video,
    resolve_form,
    video_session,
)
from ..video.probe import HEAD, looks_like_video

VIDEO_ENDINGS = (".webm", ".mov", ".zip", ".mp4", ".m4v", ".mkv", ".avi")
PHOTO_FORMS = ("rgba", "crop")  # photo forms that have no video counterpart


def refuse_video_ending_for_photos(output: str | None, photos: bool) -> None:
    """`cut photo.jpg -o out.webm` would write a PNG under a video's name: refused."""
    if photos and output and output != "-" and Path(output).suffix.lower() in VIDEO_ENDINGS:
        raise ValueError(f"-o {output} names a video file, but the input is a photo: "
                         "give a .png, .jpg or .webp name (or a folder)")


def video_form(args: argparse.Namespace, output: Path | None, *, mixed: bool = False) -> str:
    """The form for the clips: --form, else -o FILE's ending, else webm; a ValueError when
    they do not fit (--form rgba, --format jpg, -o clip.png ...). `mixed`: a folder batch
    with photos too, where --format is the photos'."""
    if args.form in PHOTO_FORMS:
        raise ValueError(f"--form {args.form} is for photos; a video takes "
                         f"{', '.join(FORMS)}")
    if args.format and not mixed:
        raise ValueError("--format is for photos; a video's form comes from --form or the "
                         "ending of -o (.webm, .mov, .zip, .mp4)")
    if output is not None and output.suffix and output.suffix.lower() not in VIDEO_ENDINGS[:4]:
        raise ValueError(f"-o {output} does not fit a video: its ending must be .webm, .mov "
                         f".zip or .mp4 (--form mask / whiteBK / --bg-color)")
    try:
        return resolve_form(output or "", args.form, args.bg_color)[0]
    except HumancutError as exc:
        raise ValueError(exc.message) from None


def _bar(quiet: bool, name: str) -> tqdm:
    # frames, fps and time left; only on a terminal
    return tqdm(total=0, unit="frame", desc=name, disable=quiet or not sys.stderr.isatty(),
                file=sys.stderr, dynamic_ncols=True)


def cut_clip(src: Path | IO[bytes], dst: Path | IO[bytes], form: str,
             args: argparse.Namespace, settings: Settings, session: Any,
             name: str) -> VideoSummary:
    with _bar(args.quiet, name) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        return remove_video(src, dst, form=form, bg_color=args.bg_color, settings=settings,
                            progress=progress, session=session)


def say(summary: VideoSummary, src: str, dst: str, quiet: bool) -> None:
    if not quiet:
        print(f"{src}: {summary.frames} frames, {summary.duration:.1f} s, "
              f"{summary.fps_achieved:.1f} fps -> {dst}", file=sys.stderr)


def check_free(dsts: list[Path], force: bool) -> None:
    taken = [d for d in dsts if d.exists()]
    if taken and not force:
        more = f" (and {len(taken) - 1} more)" if len(taken) > 1 else ""
        raise ValueError(f"{taken[0]} exists{more}; --force overwrites")


def cut_one(args: argparse.Namespace, settings: Settings, src: Path) -> int:
    """One clip to -o FILE (or FOLDER/, or beside it as NAME.cut.webm, or - for stdout)."""
    out = args.output
    named = Path(out) if out and out != "-" and batch.names_file(Path(out), False) else None
    form = video_form(args, named)
    if out == "-":
        summary = cut_clip(src, sys.stdout.buffer, form, args, settings,
                           video_session(settings), src.name)
        say(summary, str(src), "stdout", args.quiet)
        return 0
    if out and not batch.names_file(Path(out), False):
        dst = Path(out) / (src.stem + SUFFIXES[form])
    else:
        dst = Path(out) if out else src.with_name(src.stem + ".cut" + SUFFIXES[form])
    if dst.resolve() == src.resolve():
        raise ValueError(f"-o {dst} is the input itself; give another name")
    check_free([dst], args.force)
    summary = cut_clip(src, dst, form, args, settings, video_session(settings), src.name)
    say(summary, str(src), str(dst), args.quiet)
    return 0


def cut_stdin(args: argparse.Namespace, settings: Settings, data: bytes) -> int:
    out = Path(args.output) if args.output and args.output != "-" else None
    form = video_form(args, out)
    if out is not None:
        check_free([out], args.force)
    summary = cut_clip(io.BytesIO(data), out or sys.stdout.buffer, form, args, settings,
                       video_session(settings), "stdin")
    say(summary, "stdin", str(out or "stdout"), args.quiet)
    return 0


def is_video_data(data: bytes) -> bool:
    return looks_like_video(data[:HEAD])


def jobs_in(inputs: list[str], out: Path | None, form: str) -> list[tuple[Path, Path]]:
    """(clip, destination) for the clips named or found (by content) under named folders:
    a folder's tree mirrored under -o (or FOLDER-cut/), a named clip into -o or beside it."""
    jobs: list[tuple[Path, Path]] = []
    for name in inputs:
        src = Path(name)
        if src.is_dir():
            root = out if out else src.with_name(src.name + "-cut")
            _, others = batch.scan(src, exclude=root)
            jobs += [(f, batch.destination(src, f, root, SUFFIXES[form]))
                     for f in others if is_video_file(f)]
        elif is_video_file(src):
            jobs.append((src, (out / (src.stem + SUFFIXES[form])) if out else
                         src.with_name(src.stem + ".cut" + SUFFIXES[form])))
    return jobs


def cut_many(args: argparse.Namespace, settings: Settings,
             jobs: list[tuple[Path, Path]], form: str) -> list[tuple[Path, str]]:
    """Each clip in turn (the model's threads are busy with one); failures returned."""
    check_free([dst for _, dst in jobs], args.force)
    session = video_session(settings)
    failures: list[tuple[Path, str]] = []
    for src, dst in jobs:
        try:
            summary = cut_clip(src, dst, form, args, settings, session, src.name)
            say(summary, str(src), str(dst), args.quiet)
        except (HumancutError, OSError) as exc:
            failures.append((src, batch.describe(exc)))
    return failures
