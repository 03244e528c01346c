"""The `humancut` command line: cut, eval, serve, keys, models, bench, usage, config."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import BackendUnavailable, ConfigError, HumancutError, MissingExtra, ModelFileError
from ..settings import unknown_variables
from . import admin, bench, cut, serve
from .flags import EXTRAS, settings_from

__all__ = ["EXIT_STATUSES", "build_parser", "main", "settings_from"]

# Each status means one thing (docs/cli.md#exit-statuses lists them; a test compares).
EXIT_STATUSES = {
    0: "done",
    1: "some inputs were refused or failed (each is listed), or a key was not found",
    2: "a usage error or a bad setting (the flag or variable, the value and what is allowed)",
    3: "the model file is missing or corrupt (`humancut models fetch`)",
    4: "the address to serve on is in use or cannot be bound",
    5: "an optional extra is not installed (the message says which: pip install 'humancut[...]')",
    6: "a backend (key store, database, Redis, S3) cannot be opened or reached",
}

# humancut's own problems: the status and the line each gives, the first that matches wins.
FAILURES: tuple[tuple[type[Exception], int, str], ...] = (
    (ModelFileError, 3, "{exc}"),
    (HumancutError, 1, "{exc.code}: {exc.message}"),
    (MissingExtra, 5, "{exc}"),
    (BackendUnavailable, 6, "{exc}"),
    (ConfigError, 2, "configuration: {exc}"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="humancut", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (cut.add_cut, cut.add_eval, serve.add_serve, serve.add_keys, cut.add_models,
                bench.add_bench, admin.add_usage, serve.add_config):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for warning in unknown_variables():
        print(f"humancut: warning: {warning}", file=sys.stderr)
    try:
        status = args.func(args)
        sys.stdout.flush()  # here, so a reader that stopped early is met below
        return status
    except tuple(kind for kind, _, _ in FAILURES) as exc:
        status, line = next((s, f) for kind, s, f in FAILURES if isinstance(exc, kind))
        print("humancut: " + line.format(exc=exc), file=sys.stderr)
        return status
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"humancut: {MissingExtra(exc.name or '', extra, 'this command')}", file=sys.stderr)
        return 5
    except BrokenPipeError:
        # The reader stopped early (`keys list | head`): not an error of ours, and no
        # traceback; stdout goes nowhere so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError) as exc:
        print(f"humancut: {exc}", file=sys.stderr)
        return 2
