"""Backends behind three small interfaces, each chosen by a URL setting:

| setting | interface | embedded default |
|---|---|---|
| keys_url | KeyStore (keys.py) | sqlite://<data_dir>/keys.db (sqlite.py) |
| results_url | ResultStore (results.py) | file://<data_dir>/results (files.py) |
| limits_url | Limiter (limits.py) | memory:// (memory.py) |

Shared backends, for more than one server process (docs/multi-process.md): postgresql://
(postgres.py), redis:// (redis.py), s3:// (s3.py).

A backend is one module with a class that has `from_url(url, settings)`; add it to BACKENDS.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailable, ConfigError, MissingExtra
from ..settings import Settings
from .files import FileResultStore
from .keys import ApiKey, KeyStore
from .limits import Admission, Limiter
from .memory import MemoryLimiter
from .results import Opened, ResultStore, Stored
from .sqlite import SQLiteKeyStore
from .tasks import Task, TaskStore

# setting -> URL scheme -> "module:Class" (imported only when used, so a backend's client
# library is needed only by those who choose it)
BACKENDS: dict[str, dict[str, str]] = {
    "keys_url": {"sqlite": "sqlite:SQLiteKeyStore", "postgresql": "postgres:PostgresKeyStore",
                 "postgres": "postgres:PostgresKeyStore"},
    "results_url": {"file": "files:FileResultStore", "s3": "s3:S3ResultStore"},
    "limits_url": {"memory": "memory:MemoryLimiter", "redis": "redis:RedisLimiter"},
}


def backend_url(settings: Settings, setting: str) -> str:
    """The URL a setting names, or its embedded default under data_dir."""
    url = getattr(settings, setting)
    if url:
        return url
    data = Path(settings.data_dir)
    return {"keys_url": f"sqlite://{data / 'keys.db'}",
            "results_url": f"file://{data / 'results'}", "limits_url": "memory://"}[setting]


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_backend(settings: Settings, setting: str) -> Any:
    """The backend a URL setting names; a ConfigError naming the setting when the scheme is
    unknown or the backend cannot be reached."""
    url = backend_url(settings, setting)
    name = f"HUMANCUT_{setting.upper()}"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    known = BACKENDS[setting]
    if scheme not in known:
        raise ConfigError(f"{name}={redact(url)}: unknown scheme {scheme!r} "
                          f"(known: {', '.join(s + '://' for s in known)})")
    module, cls = known[scheme].split(":")
    try:
        backend = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
        return backend.from_url(url, settings)
    except ImportError as exc:
        extra = {"postgresql": "postgres"}.get(scheme, scheme)
        raise MissingExtra(str(exc.name), extra, f"{name}={redact(url)}") from None
    except Exception as exc:  # noqa: BLE001 - any failure to connect is a start-up error
        raise BackendUnavailable(f"{name}={redact(url)}: {type(exc).__name__}: {exc}") \
            from None


@dataclass
class Backends:
    keys: KeyStore
    results: ResultStore
    limiter: Limiter

    @property
    def tasks(self) -> TaskStore:
        """The video tasks: a table of the key store (both SQL stores have it)."""
        if not isinstance(self.keys, TaskStore):
            raise ConfigError(f"{type(self.keys).__name__} cannot hold video tasks")
        return self.keys

    async def close(self) -> None:
        self.keys.close()
        self.results.close()
        await self.limiter.close()


def open_keys(settings: Settings) -> KeyStore:
    return open_backend(settings, "keys_url")


def open_backends(settings: Settings) -> Backends:
    return Backends(open_keys(settings), open_backend(settings, "results_url"),
                    open_backend(settings, "limits_url"))


__all__ = ["BACKENDS", "Admission", "ApiKey", "Backends", "FileResultStore", "KeyStore",
           "Limiter", "MemoryLimiter", "Opened", "ResultStore", "SQLiteKeyStore", "Stored",
           "Task", "TaskStore", "backend_url", "open_backend", "open_backends", "open_keys",
           "redact"]
