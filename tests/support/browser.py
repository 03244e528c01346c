"""Debian's chromium, as the browser tests launch it (headless, no network of its own)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("HUMANCUT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}


def watch(pg: Any) -> list[str]:
    """CSP violations and uncaught script errors on the page `pg`, as they come."""
    problems: list[str] = []
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.on("console", lambda m: problems.append(m.text)
          if "Content Security Policy" in m.text or "Refused to" in m.text else None)
    return problems


@contextmanager
def watched_page(browser: Any, url: str, timeout: float, **options: Any) -> Iterator[Any]:
    """A page in a new context of `browser` on the server at `url` (a VIEWPORT unless
    `options`, given to new_context, say otherwise), `timeout` ms by default; the context
    is closed afterwards, and the test fails on what watch() saw."""
    ctx = browser.new_context(base_url=url + "/", **{"viewport": VIEWPORT, **options})
    ctx.set_default_timeout(timeout)
    try:
        pg = ctx.new_page()
        problems = watch(pg)
        yield pg
    finally:
        ctx.close()
    assert not problems, problems
