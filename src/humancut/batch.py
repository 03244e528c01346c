"""The folder batch shared by `humancut cut DIR` and `humancut cut --ray`: which file goes
where, writing it safely, cutting with reading and writing overlapped, and the summary.

Locally, reading and decoding, the model, and encoding and writing overlap in three stages,
so a small machine's cores stay busy (the model's threads sleep while Python decodes or
deflates a photo; here the next photo is already decoded and the last one is being written
meanwhile). Outputs, their order on the progress bar and the failures reported are those of
cutting the photos one at a time.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import HumancutError
from .imageops import IMAGE_SUFFIXES
from .remover import Remover

READ_AHEAD = 2  # photos decoded ahead of the model: bounds memory
Failure = tuple[Path, str]


# The formats `cut` writes, by name, and the file name endings that choose each.
FORMATS = {"png": (".png",), "jpg": (".jpg", ".jpeg"), "webp": (".webp",)}


def format_of(name: str | Path) -> str | None:
    """The format a file name's ending names, if any."""
    suffix = Path(name).suffix.lower()
    return next((f for f, endings in FORMATS.items() if suffix in endings), None)


def destination(root: Path, file: Path, out_root: Path, ext: str = ".png") -> Path:
    """Where the cut-out of `file`, found under the folder `root`, goes: the same relative
    name under `out_root`, with the output format's ending."""
    return (out_root / file.relative_to(root)).with_suffix(ext)


def scan(folder: Path, exclude: Path | None = None) -> tuple[list[Path], list[Path]]:
    """The photos under `folder` and the other files (hidden ones aside), both sorted;
    nothing under `exclude` (an output folder inside the input is not input)."""
    skip = exclude.resolve() if exclude else None
    images: list[Path] = []
    others: list[Path] = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or (skip and p.resolve().is_relative_to(skip)):
            continue
        if p.suffix.lower() in IMAGE_SUFFIXES:
            images.append(p)
        elif not p.name.startswith("."):
            others.append(p)
    return images, others


def names_file(out: Path, several: bool) -> bool:
    """Whether -o OUT names one output file (else a folder)."""
    if out.is_dir() or str(out).endswith(("/", os.sep)):
        return False
    return not several or format_of(out) is not None


def list_jobs(inputs: Sequence[str], out: Path | None,
              fmt: str = "png") -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(source, destination) for every image named or found under a named folder, and the
    files found that are not images. Never two sources to one destination, nor a source
    overwritten: a stem shared by two inputs keeps each one's ending (a.jpg.png,
    a.png.png); anything else that would collide is a ValueError naming both."""
    ext = FORMATS[fmt][0]
    several = len(inputs) > 1 or any(Path(i).is_dir() for i in inputs)
    if out is not None and several and names_file(out, several):
        raise ValueError(f"-o {out} names one file, but there are several inputs; give a "
                         "folder (e.g. -o out/)")
    planned: list[tuple[Path, Path, str]] = []  # source, folder, ending after the stem
    skipped: list[Path] = []
    for name in inputs:
        src = Path(name)
        if src.is_dir():
            root = out if out else src.with_name(src.name + "-cut")
            if root.resolve() == src.resolve():
                raise ValueError(f"-o {out} is the input folder itself; the cut-outs would "
                                 "replace the photos: give another folder")
            images, others = scan(src, exclude=root)
            skipped += others
            planned += [(f, destination(src, f, root).parent, ext) for f in images]
        elif out and not several and names_file(out, several):
            planned.append((src, out.parent, out.name))  # the file -o names, as written
        else:
            planned.append((src, out or src.parent, ext if out else ".cut" + ext))
    jobs = _distinct(planned)
    sources = {src.resolve(): src for src, _ in jobs}
    for src, dst in jobs:
        if dst.resolve() in sources:
            raise ValueError(f"the cut-out of {src} would overwrite the input "
                             f"{sources[dst.resolve()]}; give -o another folder or name")
    return jobs, skipped


def _distinct(planned: Sequence[tuple[Path, Path, str]]) -> list[tuple[Path, Path]]:
    def dest(src: Path, folder: Path, tail: str, keep: bool) -> Path:
        if not tail.startswith("."):
            return folder / tail  # a file name given with -o
        return folder / ((src.name if keep else src.stem) + tail)

    first = [dest(*job, keep=False) for job in planned]
    shared = {d for d in first if first.count(d) > 1}
    jobs = [(job[0], dest(*job, keep=d in shared)) for job, d in zip(planned, first,
                                                                      strict=True)]
    seen: dict[Path, Path] = {}
    for src, dst in jobs:
        if dst.resolve() in seen:
            raise ValueError(f"{seen[dst.resolve()]} and {src} would both be cut to {dst}; "
                             "rename one or cut them into separate folders")
        seen[dst.resolve()] = src
    return jobs


def write_atomic(dst: Path, data: bytes) -> None:
    """Write through a .part file, so an interrupted run never leaves a half PNG under the
    final name (a resumed run trusts the files that exist)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(dst)


def summarize(total: int, failures: Sequence[tuple[str | Path, str]], where: str | Path, *,
              quiet: bool, skipped: int = 0, not_images: Sequence[str | Path] = ()) -> int:
    """Print what was done, every file that is not an image and every failure; the exit
    status (1 when anything failed; files that are not images do not count as failures)."""
    if not quiet:
        for name in not_images:
            print(f"skipped {name}: not an image", file=sys.stderr)
        kept = f" ({skipped} already cut, skipped)" if skipped else ""
        others = (f", {len(not_images)} file{'s' if len(not_images) > 1 else ''} skipped "
                  "(not images)") if not_images else ""
        print(f"{total - len(failures)} of {total} images cut{kept}{others} -> {where}",
              file=sys.stderr)
    for src, why in failures:
        print(f"failed: {src}: {why}", file=sys.stderr)
    return 1 if failures else 0


def describe(exc: Exception) -> str:
    if isinstance(exc, HumancutError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def cut_all(remover: Remover, jobs: Sequence[tuple[Path, Path]], form: str,
            done: Callable[[Path], None] = lambda src: None, fmt: str = "png") -> list[Failure]:
    """Cut every (source, destination) pair; `done(src)` after each, in order. Returns the
    failures (decoding, no person, I/O), in order; other errors propagate."""
    failures: list[Failure] = []
    with ThreadPoolExecutor(1, "humancut-read") as reader, \
            ThreadPoolExecutor(1, "humancut-write") as writer:
        reads: deque[Future[np.ndarray]] = deque()
        writes: deque[tuple[Path, Future[None]]] = deque()

        def finish(block: bool) -> None:
            while writes and (block or writes[0][1].done()):
                src, future = writes.popleft()
                _collect(src, future, failures)
                done(src)

        for src, _ in jobs[:READ_AHEAD]:
            reads.append(reader.submit(_read, remover, src))
        for i, (src, dst) in enumerate(jobs):
            if i + READ_AHEAD < len(jobs):
                reads.append(reader.submit(_read, remover, jobs[i + READ_AHEAD][0]))
            writes.append((src, _model(remover, reads.popleft(), dst, form, fmt, writer)))
            finish(block=False)
        finish(block=True)
    return failures


def _read(remover: Remover, src: Path) -> np.ndarray:
    return remover.load(src.read_bytes())


def _model(remover: Remover, read: Future[np.ndarray], dst: Path, form: str, fmt: str,
           writer: ThreadPoolExecutor) -> Future[None]:
    """The model on this thread; the failure of an earlier stage is carried along."""
    try:
        rgb = read.result()
        matte = remover.matte(rgb)
    except (HumancutError, OSError) as exc:
        failed: Future[None] = Future()
        failed.set_exception(exc)
        return failed
    return writer.submit(lambda: write_atomic(dst, remover.encode(rgb, matte, form, fmt).data))


def _collect(src: Path, future: Future[None], failures: list[Failure]) -> None:
    try:
        future.result()
    except (HumancutError, OSError) as exc:
        failures.append((src, describe(exc)))
