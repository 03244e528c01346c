"""`humancut cut INPUT -o OUTPUT --ray`: a folder of photos on Ray Data (humancut[ray]).

Ray Data reads the files that have no output yet (a re-run resumes); `map_batches` runs
CutBatch, a callable class holding one Remover per actor, which writes each cut-out under
the same relative name as the local batch and returns per file why it failed ("" = done).
The driver only lists, counts and reports; outputs are written by the actors, so on several
nodes OUTPUT must be a folder they all see."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import batch
from .raycluster import connect
from .remover import Remover
from .runner.ray import replica_settings
from .settings import Settings


class CutBatch:
    """One model per actor; a batch of {path, bytes} in, {path, error} out."""

    def __init__(self, settings: Settings, root: str, out_root: str, form: str):
        self.remover = Remover(replica_settings(settings))
        self.remover.model  # noqa: B018 - load once per actor
        self.root, self.out_root, self.form = Path(root), Path(out_root), form

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        errors = [self.cut(Path(path), bytes(data))
                  for path, data in zip(rows["path"], rows["bytes"], strict=True)]
        return {"path": rows["path"], "error": np.array(errors, dtype=object)}

    def cut(self, src: Path, data: bytes) -> str:
        dst = batch.destination(self.root, src, self.out_root)
        return batch.cut_one(self.remover, data, src, dst, self.form)


def cut_folder(settings: Settings, src: Path, out: Path, form: str, *, quiet: bool) -> int:
    """Cut every image under `src` that has no output under `out` yet; the exit status."""
    root, out_root = src.resolve(), out.resolve()
    files = batch.images_under(root)
    todo = [f for f in files if not batch.destination(root, f, out_root).exists()]
    failures: list[tuple[str, str]] = []
    if todo:
        failures = [(str(src / Path(path).relative_to(root)), why)
                    for path, why in _run(settings, root, out_root, todo, form, quiet)]
    elif not files:
        print(f"humancut: no images found under {src}", file=sys.stderr)
        return 2
    return batch.summarize(len(files), failures, out, quiet=quiet,
                           skipped=len(files) - len(todo))


def _run(settings: Settings, root: Path, out_root: Path, todo: list[Path], form: str,
         quiet: bool) -> list[tuple[str, str]]:
    started_here = connect(settings)
    import ray

    try:
        ray.data.DataContext.get_current().enable_progress_bars = False  # ours is below
        actors = max(1, settings.ray_max_replicas)
        # Reading is I/O and asks for no CPU: actors holding every CPU would starve it.
        files = ray.data.read_binary_files([str(f) for f in todo], include_paths=True,
                                           num_cpus=0)
        rows = files.map_batches(
            CutBatch, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
            num_cpus=settings.ray_num_cpus,
            fn_constructor_kwargs={"settings": settings, "root": str(root),
                                   "out_root": str(out_root), "form": form})
        failures = []
        with tqdm(total=len(todo), unit="img", disable=quiet, file=sys.stderr) as bar:
            for row in rows.iter_rows():
                bar.update(1)
                if row["error"]:
                    failures.append((str(row["path"]), str(row["error"])))
        return sorted(failures)
    finally:
        if started_here:
            ray.shutdown()
