"""`humancut cut` with clips: recognised by content, forms from -o or --form, outputs never
overwritten without --force, endings that do not fit refused, folders of photos and clips,
a progress bar only on a terminal, bad clips with exit status 1 and no file left."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from PIL import Image

import humancut
from humancut.bench.videoclips import Scene, write_scene
from humancut.cli import main
from tests.support.clips import read_clip
from tests.support.images import encode

FAST = ["--threads", "2"]
SRC = str(Path(humancut.__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("cli") / "walk.mp4", Scene(128, 96, 8))


def test_a_clip_by_content_to_each_ending(clip: Path, tmp_path: Path, capsys) -> None:
    disguised = tmp_path / "walk.dat"  # the name says nothing; the content is an MP4
    disguised.write_bytes(clip.read_bytes())
    for name, codec in (("a.webm", "vp9"), ("a.mov", "prores"), ("a.mp4", "h264")):
        assert main(["cut", str(disguised), "-o", str(tmp_path / name), *FAST]) == 0
        out = read_clip(tmp_path / name)
        assert out.codec == codec and len(out.frames) == 8
    assert "walk.dat: 8 frames" in capsys.readouterr().err
    assert main(["cut", str(clip), "-o", str(tmp_path / "m.mp4"), "--form", "mask", *FAST]) == 0
    assert main(["cut", str(clip), "-o", str(tmp_path / "f.zip"), "-q", *FAST]) == 0
    assert (tmp_path / "f.zip").stat().st_size > 0
    assert main(["cut", str(clip), "-o", str(tmp_path / "g.mp4"), "--bg-color", "00ff00",
                 *FAST]) == 0
    green = read_clip(tmp_path / "g.mp4", fmt="rgb24").frames[0][:8, -8:].reshape(-1, 3)
    assert green.mean(axis=0) == pytest.approx([0, 255, 0], abs=20)
    # without -o: beside it, NAME.cut.webm
    assert main(["cut", str(disguised), "-q", *FAST]) == 0
    assert read_clip(tmp_path / "walk.cut.webm").pix_fmt == "yuva420p"


def test_no_silent_overwrite(clip: Path, tmp_path: Path, capsys) -> None:
    dst = tmp_path / "a.webm"
    dst.write_bytes(b"mine")
    assert main(["cut", str(clip), "-o", str(dst), *FAST]) == 2
    assert "exists; --force overwrites" in capsys.readouterr().err
    assert dst.read_bytes() == b"mine"
    assert main(["cut", str(clip), "-o", str(dst), "--force", "-q", *FAST]) == 0
    assert read_clip(dst).pix_fmt == "yuva420p"


@pytest.mark.parametrize(("what", "args", "words"), [
    ("photo", ["-o", "out.webm"], "names a video file, but the input is a photo"),
    ("photo", ["--form", "webm"], "is for videos"),
    ("clip", ["-o", "out.png"], "does not fit a video"),
    ("clip", ["--form", "rgba"], "is for photos"),
    ("clip", ["--format", "jpg"], "--format is for photos"),
    ("clip", ["-o", "out.webm", "--form", "mov"], "does not fit the mov form"),
    ("clip", ["--bg-color", "nope"], "bg_color must be a hex colour"),
])
def test_endings_and_forms_that_do_not_fit_are_refused(clip: Path, tmp_path: Path, capsys,
                                                       astronaut: Image.Image, what: str,
                                                       args: list[str], words: str) -> None:
    photo = tmp_path / "me.jpg"
    photo.write_bytes(encode(astronaut.resize((64, 64)), "JPEG"))
    src = photo if what == "photo" else clip
    args = [str(tmp_path / a) if a.startswith("out.") else a for a in args]
    before = sorted(tmp_path.iterdir())
    assert main(["cut", str(src), *args, *FAST]) == 2
    assert words in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == before


def test_a_bad_clip_fails_with_status_1_and_no_file(clip: Path, tmp_path: Path,
                                                    capsys) -> None:
    data = clip.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[:len(data) // 2])
    assert main(["cut", str(half), "-o", str(tmp_path / "o.webm"), *FAST]) == 1
    assert "humancut: undecodable:" in capsys.readouterr().err
    assert not (tmp_path / "o.webm").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half.mp4"]


def test_a_folder_of_photos_and_clips(clip: Path, tmp_path: Path, capsys,
                                      astronaut: Image.Image) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "me.jpg").write_bytes(encode(astronaut.resize((64, 64)), "JPEG"))
    (src / "sub" / "walk.mp4").write_bytes(clip.read_bytes())
    (src / "notes.txt").write_text("neither")
    out = tmp_path / "out"
    assert main(["cut", str(src), "-o", str(out), "--form", "mask", *FAST]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "me.png", "sub/walk.mp4"]
    assert read_clip(out / "sub" / "walk.mp4").codec == "h264"
    err = capsys.readouterr().err
    assert "1 of 1 images cut, 1 file skipped (not images)" in err
    assert "1 of 1 videos cut" in err


def test_stdin_to_stdout(clip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run([sys.executable, "-m", "humancut.cli", "cut", "-", "-o", "-",
                           "-q", *FAST], input=clip.read_bytes(), capture_output=True,
                          env=env, check=True)
    (tmp_path / "o.webm").write_bytes(done.stdout)
    assert len(read_clip(tmp_path / "o.webm").frames) == 8


def test_a_progress_bar_on_a_terminal_only(clip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = [sys.executable, "-m", "humancut.cli", "cut", str(clip), *FAST]
    quiet = subprocess.run([*cmd, "-o", str(tmp_path / "a.webm")], capture_output=True,
                           env=env, check=True)
    assert b"frame/s" not in quiet.stderr and b"it/s" not in quiet.stderr
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    done = subprocess.run([*cmd, "-o", str(tmp_path / "b.webm")], stderr=follower,
                          stdout=subprocess.DEVNULL, env=env, check=True)
    os.close(follower)
    seen = b""
    try:
        while chunk := os.read(leader, 65536):
            seen += chunk
    except OSError:
        pass  # the terminal closed
    os.close(leader)
    assert done.returncode == 0
    assert b"8/8" in seen and b"frame/s" in seen  # frames done, fps (and time left)
