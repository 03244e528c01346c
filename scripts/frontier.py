"""Quality against CPU cost of pipeline variants: the measurements behind the presets.

    PYTHONPATH=src .venv/bin/python scripts/frontier.py ../shared/eval OUT.jsonl \\
        'balanced:preset=balanced' 'fusion256:fusion_size=256' ...

Each variant is `name:field=value,...`: Settings fields changed from the pipeline before
presets (BEFORE), or `preset=NAME` and fields changed from that preset. For each it prints
and appends one JSON line: mean IoU, SAD, MSE and edge MAD on both shared sets, CPU seconds
per image on each set (decode + pipeline), and CPU seconds of one full 1 MP astronaut cut
(decode, pipeline, render, PNG encode; median of 5). onnxruntime runs on one thread, so CPU
seconds are a cost that other load on the machine barely moves (wall time would).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from PIL import Image

from humancut import Remover, Settings
from humancut.bench.photos import ASTRONAUT, scaled_jpeg
from humancut.evaluate import delivered, pairs, read_label
from humancut.metrics import score

SETS = ("portrait-mattes", "people-masks")
# The pipeline before presets: a variant without `preset=` changes these.
BEFORE = {"inference_size": "512", "fusion_size": "320", "fuse_above": "0",
          "closer_size": "768", "zoom": "1", "clean_up": "1", "max_model_side": "1280",
          "view_scale": "0", "flip": "0", "png_encoder": "pillow", "png_compress_level": "1"}


def parse(spec: str) -> tuple[str, dict[str, str]]:
    name, _, rest = spec.partition(":")
    return name, dict(kv.split("=", 1) for kv in rest.split(",") if kv)


def settings_for(fields: dict[str, str]) -> Settings:
    base = {} if "preset" in fields else BEFORE
    env = {f"HUMANCUT_{k.upper()}": v for k, v in (base | fields).items()}
    return Settings.from_env(env, threads=1)


def run_set(remover: Remover, root: Path) -> dict[str, float]:
    scores, cpu = [], 0.0
    for image, label in pairs(root / "images", root / "alpha"):
        c0 = time.process_time()
        alpha = remover.matte(remover.load(image), require_person=False).alpha
        cpu += time.process_time() - c0
        scores.append(score(delivered(alpha), read_label(label)))
    out = {k: statistics.fmean(s[k] for s in scores) for k in ("iou", "sad", "mse", "edge_mad")}
    return out | {"cpu_s": cpu / len(scores)}


def one_mp_cpu(remover: Remover, reps: int = 5) -> float:
    data, _ = scaled_jpeg(Image.open(ASTRONAUT), 1.0)
    remover.cut(data)
    runs = []
    for _ in range(reps):
        c0 = time.process_time()
        remover.cut(data)
        runs.append(time.process_time() - c0)
    return statistics.median(runs)


def main(eval_dir: str, out: str, *specs: str) -> None:
    for spec in specs:
        name, fields = parse(spec)
        remover = Remover(settings_for(fields))
        remover.model  # noqa: B018 - load outside the timing
        row: dict[str, object] = {"name": name, "fields": fields}
        for s in SETS:
            row[s] = run_set(remover, Path(eval_dir) / s)
        row["cpu_1mp_s"] = one_mp_cpu(remover)
        line = json.dumps(row)
        print(line, flush=True)
        with open(out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
