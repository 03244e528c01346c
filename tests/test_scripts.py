"""Every script in scripts/ still imports (scripts/README.md): a move or rename in
src/humancut that breaks one fails here, not the next time someone reruns an experiment.
They are imported, not run (their work is under `if __name__ == "__main__"`), in one child
process, since some set process-wide state at import (ray_batch_probe.py: Ray's environment
variables)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))

IMPORT_EACH = """
import importlib.util, json, sys
from pathlib import Path
for path in map(Path, sys.argv[1:]):
    try:
        spec = importlib.util.spec_from_file_location("script_" + path.stem, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        found = {"ok": True}
    except BaseException as exc:
        found = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                 "missing": exc.name or "" if isinstance(exc, ModuleNotFoundError) else ""}
    print(json.dumps({path.name: found}), flush=True)
"""


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, dict[str, object]]:
    env = os.environ | {"PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH, *map(str, SCRIPTS)],
                          cwd=tmp_path_factory.mktemp("scripts"), env=env,
                          capture_output=True, text=True, timeout=300)
    found: dict[str, dict[str, object]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            found |= json.loads(line)
    assert len(found) == len(SCRIPTS), done.stderr[-2000:]
    return found


def test_there_are_scripts():
    assert {"frontier.py", "import_graph.py"} <= {p.name for p in SCRIPTS}


@pytest.mark.parametrize("script", [p.name for p in SCRIPTS])
def test_script_imports(imported, script):
    result = imported[script]
    missing = str(result.get("missing", ""))
    if not result["ok"] and missing and missing.split(".")[0] != "humancut":
        pytest.skip(f"{script} needs {missing}, not installed here")
    assert result["ok"], f"{script}: {result.get('error')}"
