"""The `humancut` command line: cut, eval, serve, keys, models, bench, usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ConfigError, HumancutError, ModelFileError
from . import admin, bench, cut, serve
from .flags import settings_from

__all__ = ["build_parser", "main", "settings_from"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="humancut", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (cut.add_cut, cut.add_eval, serve.add_serve, serve.add_keys, cut.add_models,
                bench.add_bench, admin.add_usage):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelFileError as exc:
        print(f"humancut: {exc}", file=sys.stderr)
        return 3
    except HumancutError as exc:
        print(f"humancut: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"humancut: configuration: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"humancut: {exc}", file=sys.stderr)
        return 2

