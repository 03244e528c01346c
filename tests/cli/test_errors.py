"""Errors that say what to do, one exit status per cause (docs/cli.md's table), and
docs/cli.md's option lists checked against the parser."""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import humancut
from humancut.cli import EXIT_STATUSES, build_parser, main
from humancut.engine import MODELS, locate
from humancut.settings import Settings
from tests.support.checks import post
from tests.support.server import start

DOCS = Path(__file__).resolve().parents[2] / "docs"
SRC = str(Path(humancut.__file__).resolve().parents[1])  # this checkout's code
HUMANCUT = [sys.executable, "-m", "humancut.cli"]


def run(args: list[str], cwd: Path, pythonpath: str = SRC, **kw: object
        ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": pythonpath}
    return subprocess.run([*HUMANCUT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, **kw)  # type: ignore[call-overload]


def test_serve_on_a_taken_port_says_so_once_and_exits_4(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(["serve", "--port", str(port), "--data-dir", str(tmp_path / "d")], tmp_path)
    assert done.returncode == 4, done.stderr
    assert done.stderr.strip() == (
        f"humancut: cannot serve on 127.0.0.1:{port}: the port is in use (another server?); "
        "choose another with --port / HUMANCUT_PORT (or --host / HUMANCUT_HOST)")


def test_sigterm_finishes_the_call_in_flight_then_exits_0(tmp_path, astronaut_bytes):
    server = start(tmp_path)
    key = server.create_key()
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(post, server, key, files={"image": ("a.jpg", astronaut_bytes)})
        time.sleep(0.5)  # sent and in the model (a cut of the astronaut takes longer here)
        status = server.stop()
        answer = call.result()
    assert answer.status_code == 200 and answer.json()["error_code"] == 0
    assert status == 0


def test_a_missing_extra_names_the_install_command(tmp_path):
    """Ray absent, as on an install without humancut[ray]: a package named ray that fails
    to import the way a missing one does stands first on the path."""
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'ray'\", name='ray')\n")
    (tmp_path / "in").mkdir()
    for args in (["cut", "--ray", "in", "-o", "out"], ["serve", "--ray"]):
        done = run(args, tmp_path, f"{fake.parent}:{SRC}")
        assert done.returncode == 5, done.stderr
        assert "needs the ray package: pip install 'humancut[ray]'" in done.stderr
        assert "Traceback" not in done.stderr


def test_keys_say_which_store_and_never_make_one_by_accident(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run(["keys", "list"], elsewhere)
    assert done.returncode == 6 and not (elsewhere / "data").exists()
    assert f"no key store at sqlite://{elsewhere}/data/keys.db" in done.stderr
    done = run(["keys", "create", "--name", "a"], tmp_path)
    assert done.returncode == 0
    assert f"humancut: key store sqlite://{tmp_path}/data/keys.db (new)" in done.stderr
    done = run(["keys", "list"], tmp_path)
    assert done.returncode == 0 and "\ta\n" in done.stdout
    assert f"humancut: key store sqlite://{tmp_path}/data/keys.db\n" in done.stderr
    (elsewhere / "data").mkdir()
    (elsewhere / "data" / "keys.db").write_bytes(b"this is no database" * 100)
    done = run(["keys", "list"], elsewhere)
    assert done.returncode == 6 and "Traceback" not in done.stderr
    assert "HUMANCUT_KEYS_URL=" in done.stderr and "file is not a database" in done.stderr


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    assert run(["keys", "create"], tmp_path).returncode == 0
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "PYTHONPATH": SRC}
    proc = subprocess.Popen([*HUMANCUT, "keys", "list"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head -0`: gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, err
    assert "Broken pipe" not in err and "Traceback" not in err


def test_models_fetch_says_when_the_file_is_already_there(tmp_path):
    model_dir = Settings().model_dir
    try:
        locate(MODELS["rvm_mobilenetv3"].file, model_dir)
    except Exception:  # noqa: BLE001
        pytest.skip("the model is not fetched here")
    done = run(["models", "fetch", "--model-dir", str(model_dir)], tmp_path)
    assert done.returncode == 0
    assert "rvm_mobilenetv3: already fetched" in done.stderr and "fetching" not in done.stderr


def test_the_exit_status_table_is_the_code():
    text = (DOCS / "cli.md").read_text().split("## Exit statuses", 1)[1].split("\n## ")[0]
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", text, re.M)
    assert {int(code): meaning for code, meaning in rows} == EXIT_STATUSES


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_docs_cli_lists_every_option(name):
    """Each option of each subcommand appears in its section of docs/cli.md (engine and Ray
    flags may be listed once, under their own headings)."""
    text = (DOCS / "cli.md").read_text()
    section = text.split(f"## `humancut {name}`", 1)[1].split("\n## ", 1)[0]
    if "the flags `serve` takes" in section:  # humancut config
        section += text.split("## `humancut serve`", 1)[1].split("\n## ", 1)[0]
    shared = "".join(text.split(f"## {h}", 1)[1].split("\n## ", 1)[0]
                     for h in ("Engine flags", "Ray flags"))
    groups = {a.dest: g.title for g in _subcommands()[name]._action_groups
              for a in g._group_actions}
    missing = []
    for action in _subcommands()[name]._actions:
        for flag in (o for o in action.option_strings if o.startswith("--") and o != "--help"):
            here = f"`{flag}`" in section or f"`{flag} " in section or f"{flag}`" in section
            elsewhere = (groups[action.dest] or "").startswith(("engine", "Ray")) and (
                f"`{flag}`" in shared or f"{flag}`" in shared)
            if not (here or elsewhere):
                missing.append(flag)
    assert not missing, f"docs/cli.md, humancut {name}: {missing}"


def test_every_subcommand_is_documented():
    text = (DOCS / "cli.md").read_text()
    assert {n for n in _subcommands() if f"## `humancut {n}`" not in text} == set()


def test_a_folder_without_images_and_a_missing_input(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert main(["cut", str(tmp_path / "empty")]) == 2
    assert "no images found" in capsys.readouterr().err
    assert main(["cut", str(tmp_path / "nope.jpg")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
