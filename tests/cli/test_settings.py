"""Settings fail fast: every field checked when Settings is built, named as the user wrote it
(library field, HUMANCUT_* variable or flag); `humancut config`; unknown variables; and
docs/configuration.md checked against the code (every field, default and preset value)."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

import humancut
from humancut import Settings
from humancut.cli import main
from humancut.engine import MODELS
from humancut.presets import PRESETS
from humancut.runner import RUNNERS
from humancut.settings import FIELDS, MB, SettingError, bounds, choices, is_choice

DOCS = Path(__file__).resolve().parents[2] / "docs"
HUMANCUT = [sys.executable, "-m", "humancut.cli"]
SRC = str(Path(humancut.__file__).resolve().parents[1])  # this checkout's code


def table(markdown: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table in the section under `heading`."""
    section = markdown.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[c.strip() for c in r.strip("|").split("|")] for r in rows[2:]]


SETTING_ROWS = table((DOCS / "configuration.md").read_text(), "## Settings")


def documented() -> dict[str, tuple[str, str]]:
    """setting -> (its variable, its default) as docs/configuration.md writes them; a row
    naming several (`a` / `b`) gives each its share."""
    found: dict[str, tuple[str, str]] = {}
    for cells in SETTING_ROWS:
        names = re.findall(r"`(\w+)`", cells[0])
        variables = re.findall(r"`(HUMANCUT_\w+)`", cells[1])
        defaults = [d.strip() for d in cells[3].split(" / ")]
        assert len(variables) == len(names), cells
        assert len(defaults) == len(names), f"one default per setting: {cells}"
        for name, var, default in zip(names, variables, defaults, strict=True):
            found[name] = (var, default)
    return found


def spelled(value: object) -> set[str]:
    """How the docs may write a default."""
    if isinstance(value, bool):
        return {"on" if value else "off"}
    if isinstance(value, int) and value >= MB and value % MB == 0:
        return {f"{value // MB} MiB"}
    if isinstance(value, int | float):
        text = str(value) if isinstance(value, int) else f"{value:g}"
        return {text, f"`{text}`"}
    if value in ("", None):
        return {"–", "empty", "empty (AWS)", "`memory://`", "`sqlite://<data_dir>/keys.db`",
                "`file://<data_dir>/results`"}
    if isinstance(value, Path) and value.name == "models":
        return {"`~/.cache/humancut/models`"}
    return {f"`{value}`", str(value)}


def test_every_setting_is_documented_with_its_variable_and_default():
    docs = documented()
    assert set(docs) == set(FIELDS), "docs/configuration.md and Settings list different fields"
    defaults = Settings()
    for name, (var, default) in docs.items():
        assert var == f"HUMANCUT_{name.upper()}"
        value = getattr(defaults, name)
        if name in ("keys_url", "results_url", "limits_url", "s3_endpoint_url") or \
                default in ("–", "empty"):
            assert value in ("", None), f"{name}: the docs say unset, the code {value!r}"
        else:
            assert default in spelled(value), f"{name}: docs {default!r}, code {value!r}"


def test_the_preset_table_is_the_code():
    text = (DOCS / "configuration.md").read_text()
    rows = {cells[0].strip("`"): cells[1:] for cells in table(text, "## Presets")}
    header = text.split("## Presets", 1)[1].split("|---", 1)[0].splitlines()[-1]
    names = re.findall(r"`(\w+)`", header)
    assert names == list(PRESETS)
    assert set(rows) == {k for values in PRESETS.values() for k in values}
    for setting, cells in rows.items():
        for preset, cell in zip(names, cells, strict=True):
            want = spelled(PRESETS[preset][setting])
            assert cell in want, f"{setting} in {preset}: docs {cell!r}, code {want}"


def test_choices_are_the_registries():
    assert choices("preset") == list(PRESETS)
    assert choices("model") == sorted(MODELS)
    assert choices("runner") == list(RUNNERS)


@pytest.mark.parametrize("name", [n for n in FIELDS if is_choice(n) or bounds(n)])
def test_each_checked_field_refuses_a_bad_value_by_every_name(name):
    if is_choice(name):
        bad: object = "bogus"
        allowed = ", ".join(choices(name))
    else:
        rule = bounds(name)
        assert rule is not None and rule.lo is not None
        bad = rule.hi + 1 if rule.hi is not None else rule.lo - 1
        allowed = str(int(rule.hi if rule.hi is not None else rule.lo))
    with pytest.raises(SettingError) as err:
        Settings(**{name: bad})
    assert str(err.value).startswith(f"{name}={bad!r}:") and allowed in str(err.value)
    var = f"HUMANCUT_{name.upper()}"
    with pytest.raises(SettingError) as err:
        Settings.from_env({var: str(bad)})
    assert str(err.value).startswith(f"{var}={str(bad)!r}:") and allowed in str(err.value)
    with pytest.raises(SettingError) as err:
        Settings.resolve({}, {name: bad}, flags=True)
    assert str(err.value).startswith(f"--{name.replace('_', '-')} {bad!r}:")


def test_values_that_do_not_parse_and_cross_checks():
    with pytest.raises(SettingError, match=r"HUMANCUT_WORKERS='two': must be a whole number"):
        Settings.from_env({"HUMANCUT_WORKERS": "two"})
    with pytest.raises(SettingError, match="HUMANCUT_FLIP='maybe': must be true or false"):
        Settings.from_env({"HUMANCUT_FLIP": "maybe"})
    # ISA-L has levels 0-3; Pillow's zlib 0-9
    with pytest.raises(SettingError, match="HUMANCUT_PNG_COMPRESS_LEVEL='9': must be 0 to 3"):
        Settings.from_env({"HUMANCUT_PNG_COMPRESS_LEVEL": "9"})
    assert Settings.from_env({"HUMANCUT_PNG_COMPRESS_LEVEL": "9",
                              "HUMANCUT_PNG_ENCODER": "pillow"}).png_compress_level == 9


def test_the_library_applies_the_preset_beneath_what_is_given():
    best = Settings(preset="best")
    assert best == Settings.from_env({}, preset="best")
    assert best.flip is True and best.png_compress_level == PRESETS["best"]["png_compress_level"]
    assert Settings(preset="best", flip=False).flip is False
    assert Settings(preset="fast").inference_size == PRESETS["fast"]["inference_size"]
    assert Settings() == Settings(preset="balanced")
    changed = best.replace(workers=5)  # replace changes only what it names
    assert changed.flip is True and changed.workers == 5
    assert dataclasses.asdict(changed) == dataclasses.asdict(best) | {"workers": 5}


@pytest.mark.parametrize("command", [["serve"], ["cut", "photo.jpg"], ["keys", "list"],
                                     ["keys", "create"], ["config"]])
def test_commands_refuse_a_bad_setting_before_doing_anything(command, tmp_path, monkeypatch,
                                                             capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUMANCUT_S3_URLS", "signed")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "HUMANCUT_S3_URLS='signed': must be one of api, presigned" in err
    assert list(tmp_path.iterdir()) == []  # no data/keys.db, no output, nothing


def test_a_bad_flag_is_named_as_typed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--port", "99999"]) == 2
    assert "--port 99999: must be from 0 to 65535" in capsys.readouterr().err
    assert main(["cut", "x.jpg", "--inference-size", "0"]) == 2
    assert "--inference-size 0: must be a number at least 32" in capsys.readouterr().err
    for flag, value in [("--device", "gpu"), ("--preset", "ultra"), ("--s3-urls", "x"),
                        ("--limits-unreachable", "x"), ("--runner", "x")]:
        command = ["cut", "x.jpg"] if flag in ("--device", "--preset") else ["serve"]
        with pytest.raises(SystemExit) as stop:
            main([*command, flag, value])
        assert stop.value.code == 2
        assert f"{flag}: invalid choice: '{value}'" in capsys.readouterr().err


def test_config_says_where_each_setting_came_from(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in FIELDS:
        monkeypatch.delenv(f"HUMANCUT_{name.upper()}", raising=False)
    monkeypatch.setenv("HUMANCUT_PRESET", "best")
    monkeypatch.setenv("HUMANCUT_ZOOM", "off")
    assert main(["config", "--workers", "3",
                 "--keys-url", "postgresql://me:hunter2@db.example/keys"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()}
    assert set(lines) == set(FIELDS)
    assert lines["preset"][1:] == ["best", "environment", "HUMANCUT_PRESET"]
    assert lines["zoom"][1:] == ["False", "environment", "HUMANCUT_ZOOM"]
    assert lines["flip"][1:] == ["True", "preset", "best"]
    assert lines["workers"][1:] == ["3", "flag", "--workers"]
    assert lines["port"][1:] == ["8000", "default"]
    assert "hunter2" not in out and "postgresql://me:***@db.example/keys" in out
    assert list(tmp_path.iterdir()) == []


def test_unknown_variables_are_warned_about_with_the_nearest_name(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HUMANCUT_PNG_ENCODR": "pillow",
           "HUMANCUT_KEY": "not a setting, the samples' own", "PYTHONPATH": SRC}
    done = subprocess.run([*HUMANCUT, "config"], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "humancut: warning: HUMANCUT_PNG_ENCODR: unknown setting; did you mean "
        "HUMANCUT_PNG_ENCODER?"]
