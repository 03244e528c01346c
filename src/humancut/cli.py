"""The `humancut` command line: cut, eval, serve, keys, models, bench."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import batch, engine, imageops
from .errors import ConfigError, HumancutError, ModelFileError
from .evaluate import evaluate
from .imageops import IMAGE_SUFFIXES
from .location import is_s3
from .presets import PRESETS
from .remover import Remover
from .settings import Settings


def _engine_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine (defaults from HUMANCUT_* variables)")
    g.add_argument("--preset", choices=list(PRESETS),
                   help="fills in the pipeline and PNG settings not given explicitly "
                        "(default balanced)")
    g.add_argument("--model", help="model name (see `humancut models list`)")
    g.add_argument("--model-path", type=Path, help="use this model file")
    g.add_argument("--model-dir", type=Path, help="folder of fetched model files")
    g.add_argument("--device", choices=["auto", "cpu", "cuda"])
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


def _backend_flags(p: argparse.ArgumentParser, results: bool = True) -> None:
    p.add_argument("--data-dir", type=Path,
                   help="home of the embedded keys and results (default ./data)")
    p.add_argument("--keys-url", help="key store (default sqlite://<data-dir>/keys.db)")
    if results:
        p.add_argument("--results-url",
                       help="result store (default file://<data-dir>/results)")


def _ray_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Ray (pip install 'humancut[ray]'; docs/ray.md)")
    g.add_argument("--ray", action="store_true", help="run on Ray")
    g.add_argument("--ray-address", help="join this Ray cluster (default: start one here)")
    g.add_argument("--ray-cpus", type=int, help="CPUs of a Ray started here (0 = all)")
    g.add_argument("--ray-num-cpus", type=float, help="CPUs per model replica / bulk actor")
    g.add_argument("--ray-min-replicas", type=int, help="model replicas at least")
    g.add_argument("--ray-max-replicas", type=int, help="model replicas (bulk actors) at most")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by every flag named like a field."""
    names = [f.name for f in dataclasses.fields(Settings)]
    return Settings.from_env(**{n: getattr(args, n) for n in names if hasattr(args, n)})


# ---- cut -------------------------------------------------------------------------------

def _cut_local(remover: Remover, jobs: list[tuple[Path, Path]], form: str,
               quiet: bool) -> list[tuple[Path, str]]:
    """This process cuts them all, decoding and writing beside the model (humancut.batch)."""
    bar = tqdm(total=len(jobs), unit="img", disable=len(jobs) < 2 or quiet, file=sys.stderr)
    with bar:
        def done(src: Path) -> None:
            bar.set_postfix_str(src.name, refresh=False)
            bar.update(1)

        return batch.cut_all(remover, jobs, form, done)


def cmd_cut(args: argparse.Namespace) -> int:
    if args.ray:
        return _cut_on_ray(args)
    remover = Remover(settings_from(args))
    out = Path(args.output) if args.output and args.output != "-" else None
    if args.inputs == ["-"]:
        result = remover.remove_bytes(sys.stdin.buffer.read(), args.form)
        if out:
            out.write_bytes(result)
        else:
            sys.stdout.buffer.write(result)
        return 0
    if any(is_s3(name) for name in [*args.inputs, args.output or ""]):
        print("humancut: s3:// locations need --ray", file=sys.stderr)
        return 2
    missing = [i for i in args.inputs if not Path(i).exists()]
    if missing:
        print(f"humancut: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    jobs = batch.list_jobs(args.inputs, out)
    if not jobs:
        print("humancut: no images found (looked for "
              f"{', '.join(IMAGE_SUFFIXES)})", file=sys.stderr)
        return 2
    remover.model  # load once, before the progress bar starts  # noqa: B018
    failures = _cut_local(remover, jobs, args.form, args.quiet)
    where = jobs[0][1] if len(jobs) == 1 else jobs[0][1].parent
    return batch.summarize(len(jobs), failures, where, quiet=args.quiet)


def _cut_on_ray(args: argparse.Namespace) -> int:
    """One INPUT, one -o OUTPUT, each a folder or s3://bucket/prefix, on Ray Data
    (humancut[ray])."""
    src, out = args.inputs[0] if len(args.inputs) == 1 else "", args.output
    if not src or not out or out == "-" or not (is_s3(src) or Path(src).is_dir()):
        print("humancut: cut --ray takes one INPUT and -o OUTPUT, each a folder or "
              "s3://bucket/prefix", file=sys.stderr)
        return 2
    from .raybulk import cut_location

    return cut_location(settings_from(args), src, out, args.form, quiet=args.quiet)


# ---- eval ------------------------------------------------------------------------------

def cmd_eval(args: argparse.Namespace) -> int:
    remover = Remover(settings_from(args))
    remover.model  # noqa: B018 - load before timing
    with tqdm(unit="img", disable=args.quiet, file=sys.stderr) as bar:
        report = evaluate(remover, args.images_dir, args.alpha_dir, progress=bar.update)
    m = report.means
    print(f"{args.images_dir}: {report.images} images, {report.images_per_second:.2f} images/s")
    print(f"  IoU    {m['iou']:.4f}\n  SAD    {m['sad']:.3f}\n  MSE    {m['mse']:.5f}\n"
          f"  MAD    {m['mad']:.5f}\n  Grad   {m['grad']:.3f}\n  edgeMAD {m['edge_mad']:.4f}")
    if args.json:
        used = {k: str(v) if isinstance(v, Path) else v
                for k, v in dataclasses.asdict(remover.settings).items()}
        data = report.as_dict() | {"settings": used}
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 0


# ---- models ----------------------------------------------------------------------------

def cmd_models(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    names = [args.name] if getattr(args, "name", None) else sorted(engine.MODELS)
    for name in names:
        cls = engine.model_class(name)
        if args.action == "fetch":
            print(f"fetching {name} from {cls.file.source.describe()} ...", file=sys.stderr)
            print(engine.fetch(cls.file, settings.model_dir))
        else:
            try:
                state = str(engine.locate(cls.file, settings.model_dir))
            except ModelFileError:
                state = "not fetched"
            print(f"{name}\t{cls.file.license}\t{cls.file.sha256[:12]}\t{state}")
    return 0


# ---- serve and keys --------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from .api import create_app
    from .store import backend_url, redact

    settings = settings_from(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    if args.ray:
        from .raycluster import connect

        connect(settings)  # first: it sets the environment Ray reads at import
        from .rayserve import serve_forever

        return serve_forever(settings)
    app = create_app(settings)
    where = ", ".join(redact(backend_url(settings, s))
                      for s in ("keys_url", "results_url", "limits_url"))
    print(f"humancut: serving on http://{settings.host}:{settings.port}/ "
          f"({where}; runner {settings.runner})", file=sys.stderr, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                timeout_keep_alive=5)
    return 0


def cmd_keys_copy(args: argparse.Namespace) -> int:
    """Keys, hashes, statuses, balances and limits from one store to another (e.g. SQLite ->
    PostgreSQL). The source wins on a second run; a key revoked in the target stays so."""
    from .store import open_keys
    from .store.keys import copy_keys

    if not (args.from_url and args.to_url):
        print("humancut: keys copy needs --from URL and --to URL", file=sys.stderr)
        return 2
    settings = settings_from(args)
    source = open_keys(settings.replace(keys_url=args.from_url))
    target = open_keys(settings.replace(keys_url=args.to_url))
    try:
        added, updated = copy_keys(source, target)
    finally:
        source.close()
        target.close()
    print(f"copied keys: {added} added, {updated} updated (balances now as in the source)")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from .store import open_keys

    if args.action == "copy":
        return cmd_keys_copy(args)
    store = open_keys(settings_from(args))
    if args.action == "create":
        key, secret = store.create(args.name or "", args.credits, rate_per_minute=args.rate,
                                   max_in_flight=args.concurrency)
        credits = "unlimited" if key.credits is None else key.credits
        print(f"created key {key.id} ({key.name or 'no name'}, credits: {credits}); "
              "it is shown only now:", file=sys.stderr)
        print(secret)
        return 0
    if args.action == "list":
        print("id\tstatus\tcredits\tcreated\tname")
        for k in store.list():
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.created_at))
            credits = "unlimited" if k.credits is None else k.credits
            print(f"{k.id}\t{k.status}\t{credits}\t{created}\t{k.name}")
        return 0
    status = {"revoke": "revoked", "disable": "disabled", "enable": "active"}[args.action]
    if not args.id:
        print(f"humancut: keys {args.action} needs a key id (see `humancut keys list`)",
              file=sys.stderr)
        return 2
    if store.get(args.id) is None:
        print(f"humancut: no key with id {args.id}", file=sys.stderr)
        return 1
    if store.get(args.id).status == "revoked" and status != "revoked":  # type: ignore[union-attr]
        print(f"humancut: key {args.id} is revoked for good", file=sys.stderr)
        return 1
    store.set_status(args.id, status)
    print(f"key {args.id}: {status}")
    return 0


# ---- bench -----------------------------------------------------------------------------

def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    if args.flow:
        from .bench import flow

        settings = settings_from(args)
        shared = settings if settings.keys_url or settings.limits_url or settings.results_url \
            else None
        print(flow.render(flow.run(shared, args.requests)))
        return 0
    if args.ray:
        return _bench_ray(args)
    report = bench.run(vs_rembg=args.vs_rembg,
                       concurrency=_levels(args, bench.DEFAULT_CONCURRENCY),
                       requests=args.requests, json_path=args.json, images_dir=args.images,
                       sizes=bench.parse_list(args.sizes, float), soak_n=args.soak,
                       device=args.device, eval_dir=args.eval_dir,
                       presets=bench.parse_list(args.presets, str) if args.presets
                       else [args.preset], quality=args.quality, plot_path=args.plot)
    print(bench.render_table(report))
    print()
    print(bench.render_frontier(report))
    if args.plot:
        print(f"plot written to {args.plot}", file=sys.stderr)
    if args.json:
        print(f"report written to {args.json}", file=sys.stderr)
    return 0


def _levels(args: argparse.Namespace, default: Sequence[int]) -> Sequence[int]:
    from .bench import parse_list

    return parse_list(args.concurrency, int) if args.concurrency else default


def _bench_ray(args: argparse.Namespace) -> int:
    from .bench import ray as ray_bench

    report = ray_bench.run(images_dir=args.images, requests=args.requests,
                           concurrency=_levels(args, ray_bench.DEFAULT_CONCURRENCY),
                           json_path=args.json)
    print(ray_bench.render(report))
    if args.json:
        print(f"report written to {args.json}", file=sys.stderr)
    return 0


# ---- entry -----------------------------------------------------------------------------

def _add_cut(sub: Any) -> None:
    p = sub.add_parser("cut", help="cut people out of images, folders or stdin")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders, or - for stdin")
    p.add_argument("-o", "--output", help="output file or folder (- for stdout)")
    p.add_argument("--form", default="rgba", choices=imageops.FORMS)
    p.add_argument("-q", "--quiet", action="store_true")
    _engine_flags(p)
    _ray_flags(p)
    p.add_argument("--s3-endpoint-url",
                   help="with --ray, for s3:// INPUT or OUTPUT: an S3-compatible service "
                        "(default: AWS; credentials from the AWS_* variables)")
    p.set_defaults(func=cmd_cut)


def _add_eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="quality report against labelled alpha mattes")
    p.add_argument("images_dir", type=Path)
    p.add_argument("alpha_dir", type=Path)
    p.add_argument("--json", type=Path, help="also write the report as JSON")
    p.add_argument("-q", "--quiet", action="store_true")
    _engine_flags(p)
    p.set_defaults(func=cmd_eval)


def _add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (and the trial page)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--public-base-url", help="base of result URLs, e.g. https://cut.example")
    p.add_argument("--result-ttl", type=int, help="seconds a result URL stays valid")
    p.add_argument("--workers", type=int, help="images processed at once")
    p.add_argument("--queue-size", type=int, help="images waiting before 503")
    p.add_argument("--cors-origins", help="comma-separated origins allowed (default: none)")
    p.add_argument("--trial-key", action="store_true", default=None,
                   help="let the trial page work without a key (rate limited)")
    _backend_flags(p)
    _shared_backend_flags(p)
    p.add_argument("--limits-unreachable", choices=["open", "busy"],
                   help="when Redis is down: admit without limits, or answer 503")
    p.add_argument("--s3-urls", choices=["api", "presigned"],
                   help="S3 result URLs: this API streams them, or presigned GETs")
    p.add_argument("--runner", help="where the model runs (default thread)")
    _engine_flags(p)
    _ray_flags(p)
    p.set_defaults(func=cmd_serve)


def _add_keys(sub: Any) -> None:
    p = sub.add_parser("keys", help="manage API keys")
    p.add_argument("action", choices=["create", "list", "revoke", "disable", "enable", "copy"])
    p.add_argument("id", nargs="?", help="key id, for revoke/disable/enable")
    p.add_argument("--name", help="a label for the key")
    p.add_argument("--credits", type=int, help="calls allowed (default: unlimited)")
    p.add_argument("--rate", type=int, help="requests a minute (default: the server's)")
    p.add_argument("--concurrency", type=int, help="requests in progress at once")
    p.add_argument("--from", dest="from_url", metavar="URL", help="copy: the source key store")
    p.add_argument("--to", dest="to_url", metavar="URL", help="copy: the target key store")
    _backend_flags(p, results=False)
    p.set_defaults(func=cmd_keys)


def _add_models(sub: Any) -> None:
    p = sub.add_parser("models", help="list or fetch model files")
    p.add_argument("action", choices=["list", "fetch"])
    p.add_argument("name", nargs="?", help="one model (default: all)")
    p.add_argument("--model-dir", type=Path)
    p.set_defaults(func=cmd_models)


def _add_bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmark a humancut server (against rembg)")
    p.add_argument("--vs-rembg", action="store_true",
                   help="also run `rembg s` (u2netp) from its own venv and compare")
    p.add_argument("--concurrency", help="levels (default 1,2,4,8; with --ray 1,4,8)")
    p.add_argument("--requests", type=int, default=20, help="requests per level and size")
    p.add_argument("--json", type=Path, default=Path("bench.json"), help="report file")
    p.add_argument("--images", type=Path, help="a folder of images to send as one more group")
    p.add_argument("--eval-dir", type=Path, metavar="DIR",
                   help="labelled sets (<set>/images, as `humancut eval` reads) or a folder of "
                   "photos: a few of each as the eval-mix group (default: $HUMANCUT_EVAL_DIR; "
                   "neither: no such group)")
    p.add_argument("--sizes", default="0.25,1,2,3.9",
                   help="megapixels of generated JPEGs ('' for none)")
    p.add_argument("--soak", type=int, default=0, metavar="N",
                   help="N requests to measure RSS growth (0 = skip; 2000 for the full figure)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--preset", choices=list(PRESETS),
                   help="the humancut server's preset (default: $HUMANCUT_PRESET or balanced)")
    p.add_argument("--presets", metavar="LIST",
                   help="one humancut server per preset, e.g. fast,balanced,best")
    p.add_argument("--quality", action="store_true",
                   help="score every server on the labelled sets of --eval-dir, over HTTP")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="save the frontier plot (portrait SAD against img/s at c4)")
    p.add_argument("--flow", action="store_true",
                   help="instead: the request flow's own cost (model excluded) on the embedded "
                        "backends and, when given, on --keys-url/--limits-url/--results-url")
    p.add_argument("--ray", action="store_true",
                   help="instead: `serve --ray` against the plain server and `cut --ray` "
                        "against the local batch, on --images (default: the astronaut); "
                        "humancut[ray], docs/ray.md")
    _backend_flags(p)
    _shared_backend_flags(p)
    p.set_defaults(func=cmd_bench)


def _shared_backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limits-url", help="per-key limits (default memory://)")
    p.add_argument("--s3-endpoint-url", help="an S3-compatible service (default: AWS)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="humancut", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_cut, _add_eval, _add_serve, _add_keys, _add_models, _add_bench):
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


if __name__ == "__main__":
    sys.exit(main())
