"""The operator's subcommands beside `humancut keys`: `keys credits ID --add N | --set N |
--unlimited` and `usage [--key ID] [--days N] [--json]`. They call the same functions as the
admin API (humancut.admin), so changes are audited the same way (token column "cli")."""
# (`humancut keys credits` is hooked in by serve.py's keys parser, `usage` by __init__.py.)

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import admin
from ..settings import Settings
from ..store import KeyStore, open_keys


def keys_credits(store: KeyStore, args: argparse.Namespace) -> int:
    """`humancut keys credits ID ...` (the keys parser carries --add/--set/--unlimited)."""
    chosen = [args.add is not None, args.set is not None, args.unlimited]
    if not args.id or sum(chosen) != 1:
        print("humancut: keys credits needs a key id and one of --add N, --set N or "
              "--unlimited", file=sys.stderr)
        return 2
    try:
        key = admin.change_credits(store, admin.CLI_ACTOR, args.id, add=args.add,
                                   set_to=args.set, unlimited=args.unlimited)
    except admin.AdminError as exc:
        print(f"humancut: {exc.message}", file=sys.stderr)
        return 1
    print(f"key {key.id}: credits {'unlimited' if key.credits is None else key.credits}")
    return 0


def add_credits_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("credits (keys credits ID)")
    g.add_argument("--add", type=int, metavar="N",
                   help="add N credits (negative: take), atomic with calls in flight")
    g.add_argument("--set", type=int, metavar="N", help="set the balance to N")
    g.add_argument("--unlimited", action="store_true", help="no credit limit")


def cmd_usage(args: argparse.Namespace) -> int:
    settings = Settings.from_env(data_dir=args.data_dir, keys_url=args.keys_url)
    store = open_keys(settings)
    try:
        first, last = admin.day_span(None, None, args.days)
        rows = admin.usage(store, first, last, args.key)
        names = {k.id: k.name for k in store.list()}
    except admin.AdminError as exc:
        print(f"humancut: {exc.message}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if args.json:
        print(json.dumps({"from": first, "to": last,
                          "usage": [admin.usage_json(u) for u in rows]}, indent=2))
        return 0
    print(render_usage(rows, names, first, last))
    return 0


def render_usage(rows: list[Any], names: dict[str, str], first: str, last: str) -> str:
    head = ("day", "key", "name", "images", "videos", "video_s", "credits", "failures")
    lines = [head]
    for u in rows:
        failures = ", ".join(f"{p}={n}" for p, n in sorted(u.failures.items()))
        lines.append((u.day, u.key_id, names.get(u.key_id, "")[:24], str(u.images),
                      str(u.video_tasks), f"{u.video_seconds:g}", str(u.credits),
                      failures or "-"))
    total_failures = sum(sum(u.failures.values()) for u in rows)
    lines.append(("total", "", "", str(sum(u.images for u in rows)),
                  str(sum(u.video_tasks for u in rows)),
                  f"{sum(u.video_seconds for u in rows):g}",
                  str(sum(u.credits for u in rows)), str(total_failures)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    numeric = {3, 4, 5, 6}
    out = [f"usage {first} .. {last} (UTC days)"]
    for line in lines:
        cells = [c.rjust(w) if i in numeric else c.ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=False))]
        out.append("  ".join([*cells, line[-1]]).rstrip())
    return "\n".join(out)


def add_usage(sub: Any) -> None:
    p = sub.add_parser("usage", help="images, video tasks and failures per key and UTC day")
    p.add_argument("--key", metavar="ID", help="one key (default: all)")
    p.add_argument("--days", type=int, default=admin.DEFAULT_DAYS,
                   help=f"the last N days, today included (default {admin.DEFAULT_DAYS})")
    p.add_argument("--json", action="store_true", help="JSON, as GET /admin/v1/usage answers")
    p.add_argument("--data-dir", type=Path,
                   help="home of the embedded keys (default ./data)")
    p.add_argument("--keys-url", help="key store (default sqlite://<data-dir>/keys.db)")
    p.set_defaults(func=cmd_usage)
