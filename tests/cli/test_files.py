"""`humancut cut` keeps every file: distinct names for a shared stem, an output folder inside
the input never read back, `-o -` to stdout, `-o FILE` for one input only, the format and
the file name's ending always agreeing, and files that are not images listed and counted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import humancut
from humancut.cli import main
from tests.support.images import decode, encode

HUMANCUT = [sys.executable, "-m", "humancut.cli"]
SRC = str(Path(humancut.__file__).resolve().parents[1])  # this checkout's code
FAST = ["-q", "--preset", "fast", "--threads", "2"]


@pytest.fixture
def photos(tmp_path: Path, astronaut: Image.Image) -> Path:
    """photos/a.jpg (160 px), photos/a.png (96 px: another photo, the same stem), a .jfif,
    and two files that are not images."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    (root / "a.jpg").write_bytes(encode(astronaut.resize((160, 160)), "JPEG"))
    (root / "a.png").write_bytes(encode(astronaut.resize((96, 96)), "PNG"))
    (root / "sub" / "b.jfif").write_bytes(encode(astronaut.resize((128, 128)), "JPEG"))
    (root / "notes.txt").write_text("not an image")
    (root / "sub" / "scan.pdf").write_bytes(b"%PDF-1.4")
    return root


def test_a_shared_stem_keeps_each_ending_and_other_files_are_listed(photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["cut", str(photos), "-o", str(out), "--preset", "fast", "--threads", "2"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "a.jpg.png", "a.png.png", "sub", "sub/b.png"]
    assert decode((out / "a.jpg.png").read_bytes()).size == (160, 160)
    assert decode((out / "a.png.png").read_bytes()).size == (96, 96)
    err = capsys.readouterr().err
    assert f"skipped {photos / 'notes.txt'}: not an image" in err
    assert f"skipped {photos / 'sub' / 'scan.pdf'}: not an image" in err
    assert "3 of 3 images cut, 2 files skipped (not images)" in err
    # named files, each beside itself
    assert main(["cut", str(photos / "a.jpg"), str(photos / "a.png"), *FAST]) == 0
    assert (photos / "a.jpg.cut.png").is_file() and (photos / "a.png.cut.png").is_file()


def test_inputs_that_would_still_collide_are_refused_naming_both(tmp_path, astronaut, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        (folder / "me.jpg").write_bytes(encode(astronaut.resize((64, 64)), "JPEG"))
    assert main(["cut", str(one / "me.jpg"), str(two / "me.jpg"), "-o", str(tmp_path / "o"),
                 *FAST]) == 2
    err = capsys.readouterr().err
    assert str(one / "me.jpg") in err and str(two / "me.jpg") in err
    assert not (tmp_path / "o").exists()


def test_an_output_folder_inside_the_input_is_never_read(photos, capsys):
    out = photos / "out"
    for _ in range(2):
        assert main(["cut", str(photos), "-o", str(out), *FAST]) == 0
    assert not (out / "out").exists()
    assert sorted(p.name for p in out.rglob("*.png")) == ["a.jpg.png", "a.png.png", "b.png"]
    capsys.readouterr()
    assert main(["cut", str(photos), "-o", str(photos), *FAST]) == 2
    assert "is the input folder itself" in capsys.readouterr().err


def test_a_cut_never_overwrites_its_input(photos, capsys):
    before = (photos / "a.png").read_bytes()
    assert main(["cut", str(photos / "a.png"), "-o", str(photos / "a.png"), *FAST]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (photos / "a.png").read_bytes() == before


def test_dash_o_dash_writes_stdout_for_one_input(photos, tmp_path):
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    done = subprocess.run([*HUMANCUT, "cut", str(photos / "a.jpg"), "-o", "-", "--form", "mask",
                           "--preset", "fast"], capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert decode(done.stdout).mode == "L" and decode(done.stdout).size == (160, 160)
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg", "a.png", "notes.txt", "sub"]
    done = subprocess.run([*HUMANCUT, "cut", str(photos), "-o", "-"], capture_output=True,
                          env=env, timeout=120)
    assert done.returncode == 2 and done.stdout == b""
    assert b"-o - (stdout) takes one input file" in done.stderr


def test_dash_o_file_with_several_inputs_is_refused(photos, tmp_path, capsys):
    two = tmp_path / "two.png"
    assert main(["cut", str(photos / "a.jpg"), str(photos / "a.png"), "-o", str(two),
                 *FAST]) == 2
    assert "names one file, but there are several inputs" in capsys.readouterr().err
    assert not two.exists()


def test_the_format_follows_the_name_and_never_disagrees_with_it(photos, tmp_path, capsys):
    src = str(photos / "a.jpg")
    assert main(["cut", src, "-o", str(tmp_path / "r.jpg"), *FAST]) == 0
    assert Image.open(tmp_path / "r.jpg").format == "JPEG"
    assert main(["cut", src, "-o", str(tmp_path / "r.webp"), "--format", "webp", *FAST]) == 0
    assert Image.open(tmp_path / "r.webp").format == "WEBP"
    assert main(["cut", src, "-o", str(tmp_path / "r2.jpg"), "--format", "png", *FAST]) == 2
    assert "--format png but -o" in capsys.readouterr().err
    assert not (tmp_path / "r2.jpg").exists()
    out = tmp_path / "jpegs"
    assert main(["cut", str(photos / "sub"), "-o", str(out), "--format", "jpg", *FAST]) == 0
    assert Image.open(out / "b.jpg").format == "JPEG"  # flattened: JPEG has no alpha
