"""The folder batch shared by `humancut cut` and `humancut cut --ray`: which file goes where,
cutting and writing one file (a failure is a reason, not an exception), and the summary."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import HumancutError
from .evaluate import IMAGE_SUFFIXES
from .remover import Remover


def destination(root: Path, file: Path, out_root: Path) -> Path:
    """Where the cut-out of `file`, found under the folder `root`, goes: the same relative
    name under `out_root`, as a PNG."""
    return (out_root / file.relative_to(root)).with_suffix(".png")


def images_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


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


def cut_one(remover: Remover, data: bytes | None, src: Path, dst: Path, form: str) -> str:
    """Cut `data` (read from `src` when None) into `dst`; "" when done, else why not."""
    try:
        write_atomic(dst, remover.remove_bytes(src.read_bytes() if data is None else data,
                                               form))
        return ""
    except HumancutError as exc:
        return f"{exc.code}: {exc.message}"
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def summarize(total: int, failures: Sequence[tuple[str | Path, str]], where: Path, *,
              quiet: bool, skipped: int = 0) -> int:
    """Print what was done and every failure; the exit status (1 when anything failed)."""
    if not quiet:
        kept = f" ({skipped} already cut, skipped)" if skipped else ""
        print(f"{total - len(failures)} of {total} images cut{kept} -> {where}",
              file=sys.stderr)
    for src, why in failures:
        print(f"failed: {src}: {why}", file=sys.stderr)
    return 1 if failures else 0
