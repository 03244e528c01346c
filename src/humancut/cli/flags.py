"""The flags several subcommands share, and the Settings they make."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..errors import MissingExtra
from ..settings import FIELDS, Settings, choices

# module -> the extra that installs it (pyproject.toml's optional-dependencies)
EXTRAS = {"ray": "ray", "psycopg": "postgres", "psycopg_pool": "postgres", "redis": "redis",
          "boto3": "s3", "matplotlib": "bench"}


def need_extra(module: str, what: str) -> None:
    """Stop before doing anything when `what` (e.g. --ray) needs a module not installed."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module, EXTRAS[module], what) from None


def engine_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine (defaults from HUMANCUT_* variables)")
    g.add_argument("--preset", choices=choices("preset"),
                   help="fills in the pipeline and PNG settings not given explicitly "
                        "(default balanced)")
    g.add_argument("--model", help="model name (see `humancut models list`)")
    g.add_argument("--model-path", type=Path, help="use this model file")
    g.add_argument("--model-dir", type=Path, help="folder of fetched model files")
    g.add_argument("--device", choices=choices("device"))
    g.add_argument("--threads", type=int, help="onnxruntime threads (0 = one per core)")
    g.add_argument("--inference-size", type=int, help="long side the model sees, px")
    g.add_argument("--passes", type=int, help="times the image is fed to the model")
    g.add_argument("--max-model-side", type=int,
                   help="larger photos are matted at this long side (0 = full size)")
    g.add_argument("--fusion-size", type=int, help="second inference long side, px (0 = off)")
    g.add_argument("--flip", action=argparse.BooleanOptionalAction, help="mirror-image TTA")
    g.add_argument("--closer-size", type=int,
                   help="when no one fills the frame, matte again at this long side, px (0 = off)")
    g.add_argument("--closer-extent", type=float,
                   help="share of the image's long side a person must span to skip that")
    g.add_argument("--zoom", action=argparse.BooleanOptionalAction,
                   help="look again, closer, at small subjects")
    g.add_argument("--zoom-size", type=int, help="long side a zoomed crop is enlarged to, px")
    g.add_argument("--clean-up", action=argparse.BooleanOptionalAction,
                   help="drop far specks and bystanders, fill small holes, clear far haze")
    g.add_argument("--bystander-share", type=float,
                   help="clean-up drops people far from the main one and smaller than this "
                        "share of its area (0.01 keeps everyone but specks)")


def backend_flags(p: argparse.ArgumentParser, results: bool = True) -> None:
    p.add_argument("--data-dir", type=Path,
                   help="home of the embedded keys and results (default ./data)")
    p.add_argument("--keys-url", help="key store (default sqlite://<data-dir>/keys.db)")
    if results:
        p.add_argument("--results-url",
                       help="result store (default file://<data-dir>/results)")


def ray_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Ray (pip install 'humancut[ray]'; docs/ray.md)")
    g.add_argument("--ray", action="store_true", help="run on Ray")
    g.add_argument("--ray-address", help="join this Ray cluster (default: start one here)")
    g.add_argument("--ray-cpus", type=int, help="CPUs of a Ray started here (0 = all)")
    g.add_argument("--ray-num-cpus", type=float, help="CPUs per model replica / bulk actor")
    g.add_argument("--ray-min-replicas", type=int, help="model replicas at least")
    g.add_argument("--ray-max-replicas", type=int, help="model replicas (bulk actors) at most")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by every flag named like a field; a bad
    value is refused naming the flag or variable it came from."""
    return resolve(args)[0]


def resolve(args: argparse.Namespace) -> tuple[Settings, dict[str, str]]:
    """settings_from's Settings and where each field came from (`humancut config`)."""
    return Settings.resolve(None, {n: getattr(args, n) for n in FIELDS if hasattr(args, n)},
                            flags=True)


def shared_backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limits-url", help="per-key limits (default memory://)")
    p.add_argument("--s3-endpoint-url", help="an S3-compatible service (default: AWS)")
