"""`humancut eval --video` / `--composites`: real clips encoded here (PyAV), decoded back,
scored by the real model; the composite clips built from ../shared/eval when present."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from humancut.cli import main
from humancut.videoeval import Plan, build, labelled_clips
from humancut.videoeval.clips import H264Writer, decode
from humancut.videoeval.composites import FPS, MOTIONS
from humancut.videoeval.systems import rvm_reference
from tests.support.images import ASTRONAUT, SHARED_EVAL

MATTES = SHARED_EVAL / "portrait-mattes"
FRAMES = 6


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory, settings) -> Path:  # noqa: ANN001
    """Two clips of the astronaut drifting right: `self` labelled with the RVM reference's
    own alpha (a perfect score for it), `blank` labelled empty (nobody, by its labels)."""
    root = tmp_path_factory.mktemp("labelled")
    photo = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((192, 192)))
    for name in ("self", "blank"):
        writer = H264Writer(root / f"{name}.mp4", 192, 192, lossless=name == "self")
        for i in range(FRAMES):
            writer.write(np.roll(photo, 2 * i, axis=1))
        writer.close()
        (root / name).mkdir()
    for i, alpha in enumerate(rvm_reference(root / "self.mp4", settings)):
        Image.fromarray(np.round(alpha * 255).astype(np.uint8)).save(root / "self" / f"{i:05d}.png")
        Image.fromarray(np.zeros((192, 192), np.uint8)).save(root / "blank" / f"{i:05d}.png")
    (root / "unlabelled.mp4").write_bytes((root / "self.mp4").read_bytes())  # no label folder
    return root


def test_eval_video_scores_a_labelled_folder(labelled, tmp_path, capsys):
    report = tmp_path / "r.json"
    assert main(["eval", "--video", str(labelled), "--systems", "rvm", "--threads", "2",
                 "--json", str(report), "-q"]) == 0
    data = json.loads(report.read_text())
    assert sorted(data["per_clip"]) == ["blank", "self"]  # the unlabelled clip is passed over
    own = data["per_clip"]["self"]["rvm"]
    assert own["frames"] == FRAMES and own["j"] == 1.0 and own["mad"] == 0 and own["dtssd"] == 0
    assert own["empty_above"] is None
    blank = data["per_clip"]["blank"]["rvm"]
    # Nobody by the labels, a person by the model: every frame empty, J 0, the share > 0.5
    # is the astronaut's (about a third of the frame or more).
    assert blank["empty_frames"] == FRAMES and blank["j"] == 0
    assert 20 < blank["empty_above"] < 90
    assert data["means"]["rvm"]["frames"] == 2 * FRAMES
    out = capsys.readouterr().out
    assert "self" in out and "mean" in out and "dtSSD" in out


def test_max_frames_scores_the_same_first_frames(labelled, tmp_path):
    report = tmp_path / "r.json"
    assert main(["eval", "--video", str(labelled), "--clips", "self", "--systems",
                 "rvm,rvm:size=128,warmup=2", "--max-frames", "3", "--threads", "2",
                 "--json", str(report), "-q"]) == 0
    per = json.loads(report.read_text())["per_clip"]["self"]
    assert per["rvm"]["frames"] == 3 and per["rvm:size=128,warmup=2"]["frames"] == 3
    assert per["rvm"]["j"] > 0.99  # the trimmed copy is lossless: still its own label
    assert per["rvm:size=128,warmup=2"]["mad"] > 0  # another size sees it differently


@pytest.mark.parametrize("argv, message", [
    (["--systems", "nope"], "unknown system"),
    (["--systems", "stills:size=3"], "takes no options"),
    (["--clips", "missing"], "no labelled clip named missing"),
    (["--max-frames", "0"], "at least 1"),
])
def test_bad_video_eval_arguments_exit_2(labelled, capsys, argv, message):
    assert main(["eval", "--video", str(labelled), *argv, "-q"]) == 2
    assert message in capsys.readouterr().err


def test_eval_without_folders_says_what_it_needs(capsys):
    assert main(["eval"]) == 2
    assert "--video DIR" in capsys.readouterr().err


@pytest.mark.skipif(importlib.util.find_spec("humancut.video") is None,
                    reason="humancut.video (issue27-core) is not in this build")
def test_the_humancut_video_path_is_scored_frame_for_frame(labelled, tmp_path):
    report = tmp_path / "r.json"
    assert main(["eval", "--video", str(labelled), "--clips", "self", "--systems", "humancut",
                 "--threads", "2", "--json", str(report), "-q"]) == 0
    own = json.loads(report.read_text())["per_clip"]["self"]["humancut"]
    assert own["frames"] == FRAMES and own["j"] > 0.9


@pytest.mark.skipif(not MATTES.is_dir(), reason="../shared/eval/portrait-mattes is not present")
def test_composites_are_deterministic_with_exact_labels(tmp_path):
    plan = Plan(width=96, height=64, frames=40, seed=3)
    folder = build(MATTES, tmp_path / "a", plan)
    assert build(MATTES, tmp_path / "a", plan) == folder  # cached: built once
    clips = {c.name: c for c in labelled_clips(folder)}
    assert sorted(clips) == sorted(MOTIONS)
    for clip in clips.values():
        frames = list(decode(clip.video))
        assert len(frames) == len(clip.label_paths()) == plan.frames
        assert frames[0].shape == (64, 96, 3)
    enter = [a.max() for a in clips["enter"].truth()]
    assert all(m == 0 for m in enter[:FPS]) and all(m > 0.9 for m in enter[FPS + 10:])
    again = build(MATTES, tmp_path / "b", plan)
    for name in MOTIONS:
        for a, b in zip(clips[name].truth(), labelled_clips(again, [name])[0].truth(),
                        strict=True):
            assert np.array_equal(a, b)


@pytest.mark.skipif(not MATTES.is_dir(), reason="../shared/eval/portrait-mattes is not present")
def test_eval_composites_scores_every_motion(tmp_path, capsys):
    report = tmp_path / "r.json"
    assert main(["eval", "--composites", "--mattes", str(MATTES), "--cache-dir",
                 str(tmp_path), "--composite-size", "128x96", "--composite-frames", "36",
                 "--systems", "rvm", "--threads", "2", "--json", str(report), "-q"]) == 0
    data = json.loads(report.read_text())
    per = data["per_clip"]
    assert sorted(per) == sorted(MOTIONS)
    # nobody for a second, then a slide in from beyond the edge (the first steps unseen)
    assert FPS <= per["enter"]["rvm"]["empty_frames"] < FPS + 5
    assert per["enter"]["rvm"]["empty_above"] is not None
    assert all(per[m]["rvm"]["empty_above"] is None for m in MOTIONS if m != "enter")
    assert all(0 < per[m]["rvm"]["j"] <= 1 and per[m]["rvm"]["frames"] == 36 for m in MOTIONS)
    assert "targets" in data
