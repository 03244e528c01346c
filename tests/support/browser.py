"""Debian's chromium, as the browser tests launch it (headless, no network of its own)."""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("HUMANCUT_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
