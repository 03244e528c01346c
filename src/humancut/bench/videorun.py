"""One humancut run of `humancut bench video`, in a subprocess of its own (so that its peak
RSS is its own): `python -m humancut.bench.videorun form FORM SRC DST WORKERS` (remove_video)
or `... stills SRC ALPHA_OUT` (the stills engine on each frame; ALPHA_OUT '' writes nothing).
Prints one JSON line: frames, seconds (the work, after imports), and remove_video's summary."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def run_form(form: str, src: Path, dst: Path, workers: int) -> dict[str, object]:
    from ..settings import Settings
    from ..video import remove_video

    settings = Settings.from_env(workers=workers or None)  # 0: the settings' own
    t = time.perf_counter()
    summary = remove_video(src, dst, form=form, settings=settings)
    return {"frames": summary.frames, "seconds": time.perf_counter() - t,
            "summary": summary.as_dict()}


def run_stills(src: Path, alpha_out: str) -> dict[str, object]:
    from ..evaluate import delivered
    from ..remover import Remover
    from ..settings import Settings
    from ..videoeval.clips import decode

    remover = Remover(Settings.from_env())
    remover.model  # noqa: B018 - loaded before the clock starts, as remove_video's session
    out = open(alpha_out, "wb") if alpha_out else None  # noqa: SIM115 - closed below
    t, n = time.perf_counter(), 0
    try:
        for rgb in decode(src):
            alpha = delivered(remover.matte(rgb, require_person=False).alpha)
            if out is not None:
                out.write((np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8).tobytes())
            n += 1
    finally:
        if out is not None:
            out.close()
    return {"frames": n, "seconds": time.perf_counter() - t}


def main(argv: list[str]) -> int:
    if argv[0] == "form":
        result = run_form(argv[1], Path(argv[2]), Path(argv[3]), int(argv[4]))
    elif argv[0] == "stills":
        result = run_stills(Path(argv[1]), argv[2])
    else:
        raise SystemExit(f"unknown run {argv[0]!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
