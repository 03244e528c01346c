"""`humancut cut INPUT -o OUTPUT --ray`: a folder or `s3://bucket/prefix` of photos on Ray
Data (humancut[ray]).

The driver only lists: the images of INPUT, and the outputs OUTPUT already has (a re-run
skips them: it resumes). `map_batches` runs CutBatch, a callable class holding one Remover
per actor, which reads each photo from INPUT and writes its cut-out to OUTPUT itself (the
same relative name as the local batch) and returns per file why it failed ("" = done); no
photo goes through the driver. On several nodes a folder must be one they all see."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
from tqdm import tqdm

from . import batch
from .errors import HumancutError
from .location import absolute, open_location, output_name
from .raycluster import connect, replica_settings
from .remover import Remover
from .settings import Settings

# boto3's credentials, handed to the actors: they may run in workers a Ray started
# elsewhere (--ray-address), which never saw this process's environment.
AWS_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_EC2_METADATA_DISABLED")


class CutBatch:
    """One model per actor; a batch of {name} in, {name, error} out."""

    def __init__(self, settings: Settings, src: str, out: str, form: str):
        self.remover = Remover(replica_settings(settings))
        self.remover.model  # noqa: B018 - load once per actor
        self.src, self.out = open_location(src, settings), open_location(out, settings)
        self.form = form

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        errors = [self.cut(str(name)) for name in rows["name"]]
        return {"name": rows["name"], "error": np.array(errors, dtype=object)}

    def cut(self, name: str) -> str:
        try:
            data = self.remover.remove_bytes(self.src.read(name), self.form)
            self.out.write(output_name(name), data)
            return ""
        except (HumancutError, OSError) as exc:
            return batch.describe(exc)


def cut_location(settings: Settings, src: str, out: str, form: str, *, quiet: bool) -> int:
    """Cut every image under `src` that has no output under `out` yet; the exit status."""
    source, target = open_location(src, settings), open_location(out, settings)
    names = source.images()
    if not names:
        print(f"humancut: no images found under {source.describe()}", file=sys.stderr)
        return 2
    done = target.pngs()
    todo = [n for n in names if output_name(n) not in done]
    failures = _run(settings, absolute(src), absolute(out), todo, form, quiet) if todo else []
    return batch.summarize(len(names), [(source.describe(n), why) for n, why in failures],
                           target.describe(), quiet=quiet, skipped=len(names) - len(todo))


def _run(settings: Settings, src: str, out: str, todo: list[str], form: str,
         quiet: bool) -> list[tuple[str, str]]:
    started_here = connect(settings)
    import ray

    try:
        ray.data.DataContext.get_current().enable_progress_bars = False  # ours is below
        actors = max(1, settings.ray_max_replicas)
        env = {k: os.environ[k] for k in AWS_VARIABLES if k in os.environ}
        options: dict[str, Any] = {"runtime_env": {"env_vars": env}} if env else {}
        rows = ray.data.from_items([{"name": n} for n in todo]).map_batches(
            CutBatch, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
            num_cpus=settings.ray_num_cpus, **options,
            fn_constructor_kwargs={"settings": settings, "src": src, "out": out,
                                   "form": form})
        failures = []
        with tqdm(total=len(todo), unit="img", disable=quiet, file=sys.stderr) as bar:
            for row in rows.iter_rows():
                bar.update(1)
                if row["error"]:
                    failures.append((str(row["name"]), str(row["error"])))
        return sorted(failures)
    finally:
        if started_here:
            ray.shutdown()
