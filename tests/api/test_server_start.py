"""What a server says when it starts: a HUMANCUT_* variable no setting reads is logged as a
warning (JSON, the server's log), not only printed by the command line."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.inproc import serving

pytestmark = pytest.mark.anyio


async def test_unknown_variables_are_logged_at_server_start(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HUMANCUT_WORKRES", "3")
    monkeypatch.setenv("HUMANCUT_WORKERS", "1")  # a known one is not reported
    with caplog.at_level(logging.WARNING, logger="humancut.api"):
        async with serving(tmp_path):
            pass
    events = [json.loads(r.getMessage()) for r in caplog.records
              if r.name == "humancut.api" and r.getMessage().startswith("{")]
    unknown = [e for e in events if e.get("event") == "unknown_variable"]
    assert unknown == [{"event": "unknown_variable",
                        "warning": "HUMANCUT_WORKRES: unknown setting; did you mean "
                                   "HUMANCUT_WORKERS?"}]
    assert all(r.levelno == logging.WARNING for r in caplog.records
               if "unknown_variable" in r.getMessage())
