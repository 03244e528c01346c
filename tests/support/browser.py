"""Debian's chromium, as the browser tests launch it (headless, no network of its own)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("HUMANCUT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def watch(pg: Any) -> list[str]:
    """CSP violations and uncaught script errors on the page `pg`, as they come."""
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("console", lambda m: problems.append(m.text)
          if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    return problems
