"""The folder batch shared by `humancut cut DIR` and `humancut cut --ray`: which file goes
where, writing it safely, cutting with reading and writing overlapped, and the summary.

Locally, reading and decoding, the model, and encoding and writing overlap in three stages,
so a small machine's cores stay busy (the model's threads sleep while Python decodes or
deflates a photo; here the next photo is already decoded and the last one is being written
meanwhile). Outputs, their order on the progress bar and the failures reported are those of
cutting the photos one at a time.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import HumancutError
from .imageops import images_under
from .remover import Remover

READ_AHEAD = 2  # photos decoded ahead of the model: bounds memory
Failure = tuple[Path, str]


def destination(root: Path, file: Path, out_root: Path) -> Path:
    """Where the cut-out of `file`, found under the folder `root`, goes: the same relative
    name under `out_root`, as a PNG."""
    return (out_root / file.relative_to(root)).with_suffix(".png")


def list_jobs(inputs: Sequence[str], out: Path | None) -> list[tuple[Path, Path]]:
    """(source, destination) for every image named or found under a named folder."""
    jobs: list[tuple[Path, Path]] = []
    single_file = len(inputs) == 1 and Path(inputs[0]).is_file()
    for name in inputs:
        src = Path(name)
        if src.is_dir():
            root = out if out else src.with_name(src.name + "-cut")
            jobs += [(f, destination(src, f, root)) for f in images_under(src)]
        elif single_file and out and not out.is_dir() and not str(out).endswith("/"):
            jobs.append((src, out))
        elif out:
            jobs.append((src, out / (src.stem + ".png")))
        else:
            jobs.append((src, src.with_name(src.stem + ".cut.png")))
    return jobs


def write_atomic(dst: Path, data: bytes) -> None:
    """Write through a .part file, so an interrupted run never leaves a half PNG under the
    final name (a resumed run trusts the files that exist)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(dst)


def summarize(total: int, failures: Sequence[tuple[str | Path, str]], where: str | Path, *,
              quiet: bool, skipped: int = 0) -> int:
    """Print what was done and every failure; the exit status (1 when anything failed)."""
    if not quiet:
        kept = f" ({skipped} already cut, skipped)" if skipped else ""
        print(f"{total - len(failures)} of {total} images cut{kept} -> {where}",
              file=sys.stderr)
    for src, why in failures:
        print(f"failed: {src}: {why}", file=sys.stderr)
    return 1 if failures else 0


def describe(exc: Exception) -> str:
    if isinstance(exc, HumancutError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def cut_all(remover: Remover, jobs: Sequence[tuple[Path, Path]], form: str,
            done: Callable[[Path], None] = lambda src: None) -> list[Failure]:
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
            writes.append((src, _model(remover, reads.popleft(), dst, form, writer)))
            finish(block=False)
        finish(block=True)
    return failures


def _read(remover: Remover, src: Path) -> np.ndarray:
    return remover.load(src.read_bytes())


def _model(remover: Remover, read: Future[np.ndarray], dst: Path, form: str,
           writer: ThreadPoolExecutor) -> Future[None]:
    """The model on this thread; the failure of an earlier stage is carried along."""
    try:
        rgb = read.result()
        matte = remover.matte(rgb)
    except (HumancutError, OSError) as exc:
        failed: Future[None] = Future()
        failed.set_exception(exc)
        return failed
    return writer.submit(lambda: write_atomic(dst, remover.encode(rgb, matte, form).data))


def _collect(src: Path, future: Future[None], failures: list[Failure]) -> None:
    try:
        future.result()
    except (HumancutError, OSError) as exc:
        failures.append((src, describe(exc)))
