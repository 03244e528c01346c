"""Every output form, on real clips made with PyAV and decoded back: alpha where the
astronaut is and not around her, the input's frame count, rate, timestamps, audio, rotation
and size."""

from __future__ import annotations

import io
import os
import zipfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from humancut import HumancutError, remove_video
from humancut.bench.videoclips import Scene, write_scene
from humancut.video import probe
from tests.support.clips import Decoded, read_clip

SCENE = Scene(192, 144, 16)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("clip") / "walk.mp4", SCENE, audio=True)


def assert_cut_out(alphas: list[np.ndarray], scene: Scene) -> None:
    """On every frame: her body opaque, the landscape around her clear."""
    assert len(alphas) == scene.frames
    for i, a in enumerate(alphas):
        left, top, right, bottom = scene.body(i)
        box = scene.box(i)
        assert box is not None
        assert a[top:bottom, left:right].mean() > 200, i
        outside = np.ones(a.shape, bool)
        outside[box[1]:box[1] + box[2], box[0]:box[0] + box[2]] = False
        assert a[outside].mean() < 20, i


def assert_same_timing(out: Decoded, src: Decoded) -> None:
    assert len(out.frames) == len(src.frames)
    assert out.fps == pytest.approx(src.fps, rel=1e-3)
    assert out.times == pytest.approx(src.times, abs=1.5e-3)


def test_webm_has_alpha_audio_and_the_input_timing(clip: Path, tmp_path: Path,
                                                   session: Any) -> None:
    summary = remove_video(clip, tmp_path / "out.webm", session=session)
    out, src = read_clip(tmp_path / "out.webm"), read_clip(clip)
    assert (out.codec, out.pix_fmt) == ("vp9", "yuva420p")
    assert_cut_out([f[..., 3] for f in out.frames], SCENE)
    assert_same_timing(out, src)
    assert out.audio == "opus" and out.audio_seconds == pytest.approx(src.audio_seconds,
                                                                      abs=0.05)
    assert (summary.frames, summary.width, summary.height, summary.form) == (16, 192, 144,
                                                                             "webm")
    assert summary.fps == 15 and summary.fps_achieved > 0 and summary.cuts == []
    assert set(summary.stages) == {"decode", "matting", "encode"}
    with av.open(str(tmp_path / "out.webm")) as c:
        assert c.streams.video[0].metadata.get("ALPHA_MODE") == "1"
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.webm").stat().st_mode & 0o777 == 0o666 & ~umask  # as any new file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.webm"]  # no temporary left


def test_mov_is_prores_4444_with_alpha(clip: Path, tmp_path: Path, session: Any) -> None:
    remove_video(clip, tmp_path / "out.mov", session=session)
    out = read_clip(tmp_path / "out.mov")
    assert out.codec == "prores" and out.pix_fmt.startswith("yuva444p")
    assert_cut_out([f[..., 3] for f in out.frames], SCENE)
    assert_same_timing(out, read_clip(clip))
    assert out.audio == "aac"


def test_png_zip_frames_and_timestamps(clip: Path, tmp_path: Path, session: Any) -> None:
    remove_video(clip, tmp_path / "out.zip", session=session)
    with zipfile.ZipFile(tmp_path / "out.zip") as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png"))
        assert names[0] == "frame_000001.png" and len(names) == SCENE.frames
        frames = [np.asarray(Image.open(io.BytesIO(z.read(n)))) for n in names]
        lines = z.read("timestamps.txt").decode().split("\n")
    assert frames[0].shape == (144, 192, 4)
    assert_cut_out([f[..., 3] for f in frames], SCENE)
    times = [float(line.split()[1]) for line in lines if line]
    assert times == pytest.approx(read_clip(clip).times, abs=1e-6)


def test_mask_is_a_full_range_grey_matte(clip: Path, tmp_path: Path, session: Any) -> None:
    remove_video(clip, tmp_path / "out.mp4", form="mask", session=session)
    with av.open(str(tmp_path / "out.mp4")) as c:
        ctx = c.streams.video[0].codec_context
        # yuv420p, full range: FFmpeg's decoder names it yuvj420p
        assert (ctx.name, ctx.pix_fmt, ctx.color_range) == ("h264", "yuvj420p", 2)
        # the Y plane is the matte itself (full range: 0 = clear, 255 = opaque)
        mattes = [f.to_ndarray(format="yuv420p")[:144] for f in c.decode(video=0)]
    assert_cut_out(mattes, SCENE)
    assert read_clip(tmp_path / "out.mp4").audio == "aac"


@pytest.mark.parametrize(("form", "bg_color", "colour"), [
    ("whiteBK", None, (255, 255, 255)), (None, "#2050e0", (0x20, 0x50, 0xe0))])
def test_on_a_colour(clip: Path, tmp_path: Path, session: Any, form: str | None,
                     bg_color: str | None, colour: tuple[int, int, int]) -> None:
    summary = remove_video(clip, tmp_path / "out.mp4", form=form, bg_color=bg_color,
                           session=session)
    assert summary.form == "whiteBK"
    out, src = read_clip(tmp_path / "out.mp4", fmt="rgb24"), read_clip(clip, fmt="rgb24")
    assert_same_timing(out, src)
    for i in (0, SCENE.frames - 1):
        left, top, right, bottom = SCENE.body(i)
        body = np.abs(out.frames[i][top:bottom, left:right].astype(int)
                      - src.frames[i][top:bottom, left:right])
        assert body.mean() < 12  # her pixels kept
        corner = out.frames[i][:10, -30:].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - colour).max() < 12  # the landscape replaced by the colour


def test_variable_frame_rate_stays_variable(tmp_path: Path, session: Any) -> None:
    scene = Scene(160, 120, 12)
    pts = [0, 40, 100, 120, 200, 260, 270, 330, 420, 440, 520, 600]  # ms
    src = write_scene(tmp_path / "vfr.mkv", scene, kind="mkv", pts=pts,
                      time_base=Fraction(1, 1000))
    for name in ("out.webm", "out.mov", "out.mp4"):
        remove_video(src, tmp_path / name, session=session)
        times = read_clip(tmp_path / name).times
        assert times == pytest.approx([p / 1000 for p in pts], abs=1.5e-3), name


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_rotation_is_honoured(tmp_path: Path, session: Any, rotation: int) -> None:
    """A phone clip: pixels stored turned, the display matrix saying how to show them."""
    scene = Scene(120, 160, 8)  # upright: portrait
    src = write_scene(tmp_path / "phone.mp4", scene, rotation=rotation)
    with av.open(str(src)) as c:
        stored = c.streams.video[0].codec_context
        assert (stored.width, stored.height) == ((160, 120) if rotation % 180 else (120, 160))
    info = probe(src)
    assert (info.width, info.height, info.rotation) == (120, 160, rotation % 360)
    summary = remove_video(src, tmp_path / "out.webm", session=session)
    assert (summary.width, summary.height) == (120, 160)
    out = read_clip(tmp_path / "out.webm")
    assert out.frames[0].shape == (160, 120, 4)
    assert_cut_out([f[..., 3] for f in out.frames], scene)
    upright = out.frames[0][..., :3].astype(int)
    assert np.abs(upright[:10] - scene.frame(0)[:10]).mean() < 12  # the sky on top


def test_odd_sizes_are_kept_or_evened(tmp_path: Path, session: Any) -> None:
    scene = Scene(161, 121, 6)
    src = write_scene(tmp_path / "odd.webm", scene, kind="webm")
    assert probe(src).width == 161
    for name, size in (("out.webm", (161, 121)), ("out.mov", (161, 121)),
                       ("out.mp4", (160, 120))):
        summary = remove_video(src, tmp_path / name, session=session)
        out = read_clip(tmp_path / name)
        assert (summary.width, summary.height) == size
        assert out.frames[0].shape[1::-1] == size and len(out.frames) == 6


def test_nobody_gives_a_transparent_clip(tmp_path: Path, session: Any) -> None:
    scene = Scene(192, 144, 16, person=False)
    src = write_scene(tmp_path / "empty.mp4", scene)
    remove_video(src, tmp_path / "out.webm", session=session)
    alphas = np.stack([f[..., 3] for f in read_clip(tmp_path / "out.webm").frames])
    assert len(alphas) == 16
    assert (alphas > 127).mean() < 0.001


def test_a_hard_cut_restarts_the_state(tmp_path: Path, session: Any) -> None:
    scene = Scene(192, 144, 24, cut_at=13)
    src = write_scene(tmp_path / "cut.mp4", scene)
    summary = remove_video(src, tmp_path / "out.webm", session=session)
    assert summary.cuts == [13] and summary.frames == 24
    assert_cut_out([f[..., 3] for f in read_clip(tmp_path / "out.webm").frames], scene)


def test_binary_files_in_and_out_and_progress(clip: Path, session: Any) -> None:
    seen: list[tuple[int, int]] = []
    out = io.BytesIO()
    with open(clip, "rb") as f:
        summary = remove_video(f, out, session=session,
                               progress=lambda done, total: seen.append((done, total)))
    assert summary.form == "webm" and out.getvalue()[:4] == b"\x1a\x45\xdf\xa3"
    assert seen == [(i, SCENE.frames) for i in range(1, SCENE.frames + 1)]


def test_bad_form_and_colour(clip: Path, tmp_path: Path, session: Any) -> None:
    for kwargs in ({"form": "gif"}, {"form": "mov", "dst": "x.webm"},
                   {"bg_color": "red!"}, {"form": "webm", "bg_color": "ffffff"}):
        dst = tmp_path / str(kwargs.pop("dst", "out.mp4" if "bg_color" in kwargs else "o"))
        with pytest.raises(HumancutError) as e:
            remove_video(clip, dst, session=session, **kwargs)  # type: ignore[arg-type]
        assert e.value.code == "invalid_parameter"
    assert list(tmp_path.iterdir()) == []
