"""The operator's actions on keys, shared by the admin API (api/admin.py) and the CLI
(cli/admin.py, cli/serve.py's `keys`): each change is made in the key store and written to
its audit table in one transaction (both or neither), then logged as one line. Errors carry
the HTTP status the API answers with."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

from .store import ApiKey, KeyStore
from .store.keys import CHANGEABLE, Conflict, Usage

DEFAULT_DAYS = 30
MAX_DAYS = 366  # the longest usage span one request may ask for
CLI_ACTOR = "cli"  # the audit's token column for changes made with the CLI on the machine
SERVER_ACTOR = "server"  # ... and for those the server makes itself (the trial page's key)

log = logging.getLogger("humancut.admin")


class AdminError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def fingerprint(token: str) -> str:
    """What the audit and logs say about a token: enough to tell two apart, never it."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def key_json(key: ApiKey) -> dict[str, Any]:
    """A key as the API shows it: never its hash or secret."""
    return {"id": key.id, "name": key.name, "status": key.status, "credits": key.credits,
            "created_at": key.created_at, "rate_per_minute": key.rate_per_minute,
            "max_in_flight": key.max_in_flight}


def usage_json(u: Usage) -> dict[str, Any]:
    return {"day": u.day, "key_id": u.key_id, "images": u.images, "credits": u.credits,
            "failures": dict(sorted(u.failures.items())), "video_tasks": u.video_tasks,
            "video_seconds": round(u.video_seconds, 3)}


def _audited(store: KeyStore, actor: str, action: str, key_id: str,
             fields: dict[str, Any]) -> None:
    """Write the audit entry (inside the change's transaction: both or neither), then the
    log line once the transaction is committed (_logged)."""
    store.audit(action, key_id, fields, actor)


def _logged(actor: str, action: str, key_id: str, fields: dict[str, Any]) -> None:
    log.info(json.dumps({"event": "admin", "action": action, "key_id": key_id,
                         "fields": fields, "token": actor}, sort_keys=True))


def _checked(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Store errors in the API's terms."""
    try:
        return call(*args, **kwargs)
    except Conflict as exc:
        raise AdminError(409, "conflict", str(exc)) from None
    except ValueError as exc:
        raise AdminError(400, "invalid_parameter", str(exc)) from None


def _found(key: ApiKey | None, key_id: str) -> ApiKey:
    if key is None:
        raise AdminError(404, "not_found", f"There is no key with id {key_id!r}.")
    return key


def get_key(store: KeyStore, key_id: str) -> ApiKey:
    return _found(store.get(key_id), key_id)


def create_key(store: KeyStore, actor: str, *, name: str = "", credits: int | None = None,
               rate_per_minute: int | None = None,
               max_in_flight: int | None = None) -> tuple[ApiKey, str]:
    fields = {"name": name, "credits": credits, "rate_per_minute": rate_per_minute,
              "max_in_flight": max_in_flight}
    with store.atomic():
        key, secret = _checked(store.create, name, credits, rate_per_minute=rate_per_minute,
                               max_in_flight=max_in_flight)
        _audited(store, actor, "create", key.id, fields)
    _logged(actor, "create", key.id, fields)
    return key, secret


def update_key(store: KeyStore, actor: str, key_id: str, changes: dict[str, Any]) -> ApiKey:
    with store.atomic():
        before = get_key(store, key_id)
        key = _found(_checked(store.update, key_id, **changes), key_id)
        fields = {k: v for k, v in changes.items() if getattr(before, k) != v}
        if fields:
            _audited(store, actor, "update", key_id, fields)
    if fields:
        _logged(actor, "update", key_id, fields)
    return key


def change_credits(store: KeyStore, actor: str, key_id: str, *, add: int | None = None,
                   set_to: int | None = None, unlimited: bool = False) -> ApiKey:
    """Add `add` (atomic with calls in flight), or set the balance to `set_to`, or make the
    key unlimited."""
    with store.atomic():
        if add is not None:
            key = _found(_checked(store.add_credits, key_id, add), key_id)
            fields: dict[str, Any] = {"add": add, "credits": key.credits}
        else:
            value = None if unlimited else set_to
            key = _found(_checked(store.set_credits, key_id, value), key_id)
            fields = {"set": value, "credits": key.credits}
        _audited(store, actor, "credits", key_id, fields)
    _logged(actor, "credits", key_id, fields)
    return key


def day_span(first: str | None, last: str | None, days: int | None = None,
             today: dt.date | None = None) -> tuple[str, str]:
    """(first, last) UTC days, YYYY-MM-DD: by default the `days` (30) up to today."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        end = dt.date.fromisoformat(last) if last else today
        if days is not None and days < 1:
            raise AdminError(400, "invalid_parameter", "days must be 1 or more")
        start = (dt.date.fromisoformat(first) if first
                 else end - dt.timedelta(days=(days or DEFAULT_DAYS) - 1))
    except ValueError:
        raise AdminError(400, "invalid_parameter",
                         "from and to are days written YYYY-MM-DD") from None
    if start > end:
        raise AdminError(400, "invalid_parameter", "from is after to")
    if (end - start).days >= MAX_DAYS:
        raise AdminError(400, "invalid_parameter", f"at most {MAX_DAYS} days at once")
    return start.isoformat(), end.isoformat()


def usage(store: KeyStore, first: str, last: str, key_id: str | None = None) -> list[Usage]:
    if key_id is not None:
        get_key(store, key_id)
    return store.usage(first, last, key_id)


__all__ = ["CHANGEABLE", "CLI_ACTOR", "AdminError", "change_credits", "create_key",
           "day_span", "fingerprint", "get_key", "key_json", "update_key", "usage",
           "usage_json"]
