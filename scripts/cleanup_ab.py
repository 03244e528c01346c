"""CPU time of the bare pipeline with the clean-up of another revision against this one,
alternated call by call in one process, so a loaded machine slows both alike.

Only `refine.clean_up` differs between the two runs (the model, views and everything else
are this tree's); one onnxruntime thread; the 1 MP astronaut (as `humancut bench --sizes 1`
sends it) and the first photos of a folder:

    PYTHONPATH=src .venv/bin/python scripts/cleanup_ab.py ae0c8d3 ../shared/eval/people-masks/images
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from humancut import Remover, Settings
from humancut import remover as pipeline

ROOT = Path(__file__).resolve().parent.parent


def old_clean_up(revision: str):  # noqa: ANN201 - a function of the other revision
    source = subprocess.run(["git", "-C", str(ROOT), "show",
                             f"{revision}:src/humancut/engine/refine.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "refine_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("refine_old", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.clean_up


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", help="git revision whose clean-up is 'before'")
    ap.add_argument("images", type=Path, help="a folder of photos with people")
    ap.add_argument("--photos", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--presets", default="fast,balanced")
    args = ap.parse_args()
    variants = {"before": old_clean_up(args.before), "after": pipeline.refine.clean_up}
    astronaut = Image.open(ROOT / "src/humancut/bench/data/astronaut.jpg").convert("RGB")
    photos = [np.asarray(astronaut.resize((1000, 1000), Image.Resampling.BICUBIC))]
    for preset in args.presets.split(","):
        remover = Remover(Settings.from_env(preset=preset, threads=1))
        photos = photos[:1] + [remover.load(p) for p in sorted(args.images.iterdir())
                               if p.suffix.lower() in (".jpg", ".jpeg", ".png")][:args.photos]
        spent = dict.fromkeys(variants, 0.0)
        for n in range(args.rounds):
            for rgb in photos:
                for name in (list(variants) if n % 2 == 0 else list(reversed(variants))):
                    pipeline.refine.clean_up = variants[name]
                    start = time.process_time()
                    remover.matte(rgb, require_person=False)
                    spent[name] += time.process_time() - start
        pipeline.refine.clean_up = variants["after"]
        count = args.rounds * len(photos)
        print(f"{preset}: before {spent['before'] / count:.3f} s, after "
              f"{spent['after'] / count:.3f} s CPU per image "
              f"({(spent['after'] / spent['before'] - 1) * 100:+.1f} %)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
