"""`humancut serve` (uvicorn, or Ray Serve with --ray) and `humancut keys`."""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable
from ..settings import FIELDS, SECRETS, Settings, choices
from . import admin
from .flags import (
    backend_flags,
    engine_flags,
    need_extra,
    ray_flags,
    resolve,
    settings_from,
    shared_backend_flags,
)


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..api import create_app
    from ..store import backend_url, redact
    from .drain import DrainingServer

    settings = settings_from(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(message)s")
    if args.ray:
        need_extra("ray", "serve --ray")
        # Serve's HTTP proxy binds on the head node, later, and a taken port would only
        # show in its log: when the head is this machine, a taken port is told now, once,
        # as without --ray.
        if _local(settings.ray_address):
            taken = _bound_or_told(settings)
            if taken is None:
                return 4
            taken.close()
        from ..raycluster import connect

        connect(settings)  # first: it sets the environment Ray reads at import
        from ..rayserve import serve_forever

        return serve_forever(settings)
    app = create_app(settings)  # a backend that cannot be opened stops it here (exit 6)
    # bound before "serving on" is said: a taken port is reported once, plainly
    sock = _bound_or_told(settings)
    if sock is None:
        return 4
    with sock:
        where = ", ".join(redact(backend_url(settings, s))
                          for s in ("keys_url", "results_url", "limits_url"))
        port = sock.getsockname()[1]
        print(f"humancut: serving on http://{settings.host}:{port}/ "
              f"({where}; runner {settings.runner})", file=sys.stderr, flush=True)
        # uvicorn drains in-flight calls on SIGTERM (or Ctrl-C), then raises the signal
        # again; with the default handler the process would end as killed by it (-15). A
        # requested stop is a clean one: exit status 0 (at once too, should it come before
        # uvicorn listens).
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit_cleanly)
        config = uvicorn.Config(app, host=settings.host, port=port, log_level="warning",
                                timeout_keep_alive=5)
        DrainingServer(config, app.state, settings.drain_seconds).run(sockets=[sock])
    return 0


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _bound_or_told(settings: Settings) -> socket.socket | None:
    """The listening socket, or None once the reason it cannot be had is printed."""
    try:
        return _bind(settings.host, settings.port)
    except OSError as exc:
        why = "the port is in use (another server?)" if exc.errno == errno.EADDRINUSE \
            else exc.strerror
        print(f"humancut: cannot serve on {settings.host}:{settings.port}: {why}; choose "
              "another with --port / HUMANCUT_PORT (or --host / HUMANCUT_HOST)",
              file=sys.stderr)
        return None


def _local(ray_address: str) -> bool:
    """Whether the Ray head `ray_address` names is this machine (a Ray started here, `auto`,
    or an address of this machine's: one it can bind)."""
    if ray_address in ("", "auto", "local"):
        return True
    host = ray_address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    try:
        family, *_, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind(address)
        return True
    except OSError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def cmd_keys_copy(args: argparse.Namespace) -> int:
    """Keys, hashes, statuses, balances and limits from one store to another (e.g. SQLite ->
    PostgreSQL), with their usage and the audit trail (store/copy.py). The source wins on a
    second run; a key revoked in the target stays so."""
    from ..admin import CLI_ACTOR
    from ..store import open_keys, redact
    from ..store.copy import copy_store

    if not (args.from_url and args.to_url):
        print("humancut: keys copy needs --from URL and --to URL", file=sys.stderr)
        return 2
    settings = settings_from(args)
    source = open_keys(settings.replace(keys_url=args.from_url))
    target = open_keys(settings.replace(keys_url=args.to_url))
    try:
        done = copy_store(source, target, CLI_ACTOR, redact(args.from_url))
    finally:
        source.close()
        target.close()
    print(f"copied keys: {done.added} added, {done.updated} updated (balances now as in the "
          f"source); usage: {done.usage} rows; audit: {done.audit} entries added")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from ..store import open_keys

    if args.action == "copy":
        return cmd_keys_copy(args)
    settings = settings_from(args)
    url, new = _key_store(settings)
    if new and args.action != "create":
        print(f"humancut: no key store at {url}: `keys create` makes one; give the server's "
              "--data-dir or --keys-url (HUMANCUT_DATA_DIR / HUMANCUT_KEYS_URL)",
              file=sys.stderr)
        return 6
    # Said every time: a store made by mistake in another directory is then plain to see.
    print(f"humancut: key store {url}{' (new)' if new else ''}", file=sys.stderr)
    store = open_keys(settings)
    try:
        return _keys_action(store, args)
    except sqlite3.Error as exc:  # a file that is not a key store, unreadable, locked
        raise BackendUnavailable(f"HUMANCUT_KEYS_URL={url}: {exc} (is it humancut's keys.db?)") \
            from None
    finally:
        store.close()


def _keys_action(store: Any, args: argparse.Namespace) -> int:
    # Through the admin API's own functions (humancut.admin): every change is audited
    # (token "cli") in the same transaction.
    from .. import admin as actions

    if args.action == "credits":
        return admin.keys_credits(store, args)
    if args.action == "create":
        key, secret = actions.create_key(store, actions.CLI_ACTOR, name=args.name or "",
                                         credits=args.credits, rate_per_minute=args.rate,
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
    try:
        actions.update_key(store, actions.CLI_ACTOR, args.id, {"status": status})
    except actions.AdminError as exc:
        message = {404: f"no key with id {args.id}",
                   409: f"key {args.id} is revoked for good"}.get(exc.status, exc.message)
        print(f"humancut: {message}", file=sys.stderr)
        return 1
    print(f"key {args.id}: {status}")
    return 0


def _key_store(settings: Settings) -> tuple[str, bool]:
    """The key store's URL as it will be opened (an embedded one's path made absolute) and
    whether it is an SQLite file that does not exist yet."""
    from ..store import backend_url, redact

    url = backend_url(settings, "keys_url")
    if not url.startswith("sqlite://"):
        return redact(url), False
    path = Path(url.removeprefix("sqlite://")).expanduser().resolve()
    return f"sqlite://{path}", not path.exists()


def cmd_config(args: argparse.Namespace) -> int:
    """Every setting's effective value and where it came from; secrets as ***."""
    from ..store import redact

    settings, origins = resolve(args)
    width = max(map(len, FIELDS))
    for name in FIELDS:
        value = getattr(settings, name)
        shown = "***" if name in SECRETS and value else \
            redact(value) if isinstance(value, str) else value
        print(f"{name:<{width}}  {str(shown) if shown != '' else '(empty)':<28} {origins[name]}")
    return 0


def add_config(sub: Any) -> None:
    p = sub.add_parser("config", help="print the effective settings and where each came from")
    _serve_options(p)
    p.set_defaults(func=cmd_config)


def add_serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (and the trial page)")
    _serve_options(p)
    p.set_defaults(func=cmd_serve)


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--public-base-url", help="base of result URLs, e.g. https://cut.example")
    p.add_argument("--result-ttl", type=int, help="seconds a result URL stays valid")
    p.add_argument("--workers", type=int, help="images processed at once")
    p.add_argument("--queue-size", type=int, help="images waiting before 503")
    p.add_argument("--cors-origins", help="comma-separated origins allowed (default: none)")
    p.add_argument("--trial-key", action="store_true", default=None,
                   help="let the trial page work without a key (rate limited)")
    p.add_argument("--admin-token-file", type=Path,
                   help="enable /admin, the operator console, with the token in this file "
                        "(or HUMANCUT_ADMIN_TOKEN); docs/admin.md")
    backend_flags(p)
    shared_backend_flags(p)
    p.add_argument("--limits-unreachable", choices=choices("limits_unreachable"),
                   help="when Redis is down: admit without limits, or answer 503")
    p.add_argument("--s3-urls", choices=choices("s3_urls"),
                   help="S3 result URLs: this API streams them, or presigned GETs")
    p.add_argument("--runner", choices=choices("runner"),
                   help="where the model runs (default thread)")
    engine_flags(p)
    ray_flags(p)


def add_keys(sub: Any) -> None:
    p = sub.add_parser("keys", help="manage API keys")
    p.add_argument("action", choices=["create", "list", "revoke", "disable", "enable", "copy",
                                      "credits"])
    p.add_argument("id", nargs="?", help="key id, for revoke/disable/enable/credits")
    p.add_argument("--name", help="a label for the key")
    p.add_argument("--credits", type=int, help="calls allowed (default: unlimited)")
    p.add_argument("--rate", type=int, help="requests a minute (default: the server's)")
    p.add_argument("--concurrency", type=int, help="requests in progress at once")
    p.add_argument("--from", dest="from_url", metavar="URL", help="copy: the source key store")
    p.add_argument("--to", dest="to_url", metavar="URL", help="copy: the target key store")
    backend_flags(p, results=False)
    admin.add_credits_flags(p)
    p.set_defaults(func=cmd_keys)
