"""Bad clips: each refused with its problem code and a clear message, nothing left behind;
limits read from the header, before a frame is decoded."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import av
import pytest

from humancut import HumancutError, remove_video
from humancut.bench.videoclips import Scene, tone, write_scene
from humancut.video import VideoLimits, probe
from tests.support.images import ASTRONAUT

SCENE = Scene(160, 120, 20)
LIMITS = VideoLimits(max_bytes=10 * 2**20, max_seconds=60, max_side=1920)


def refused(src: Path, out: Path, code: str, words: str, session: Any,
            limits: VideoLimits = LIMITS) -> None:
    """probe and remove_video both refuse `src` with `code`; no file is left in `out`'s
    folder."""
    with pytest.raises(HumancutError) as e:
        probe(src, limits)
    assert e.value.code == code and words in e.value.message, e.value.message
    with pytest.raises(HumancutError) as e:
        remove_video(src, out / "out.webm", session=session, limits=limits)
    assert e.value.code == code and words in e.value.message, e.value.message
    assert list(out.iterdir()) == []


@pytest.fixture
def out(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path / "out"


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("clips") / "ok.mp4", SCENE)


def test_not_a_video(tmp_path: Path, out: Path, session: Any) -> None:
    photo = tmp_path / "photo.mp4"  # the name says video; the content is a JPEG
    photo.write_bytes(ASTRONAUT.read_bytes())
    refused(photo, out, "unsupported_type", "Not a video", session)
    text = tmp_path / "notes.webm"
    text.write_text("hello " * 100)
    refused(text, out, "unsupported_type", "Not a video", session)


def test_no_video_stream(tmp_path: Path, out: Path, session: Any) -> None:
    with av.open(str(tmp_path / "song.mp4"), "w") as c:
        stream: Any = c.add_stream("aac", rate=44100)
        stream.layout = "stereo"
        tone(c, stream, 0.5)
    refused(tmp_path / "song.mp4", out, "unsupported_type", "no video stream", session)


def test_unsupported_codec(tmp_path: Path, out: Path, session: Any) -> None:
    avi = write_scene(tmp_path / "ok.avi", SCENE, kind="avi")
    odd = tmp_path / "odd.avi"  # a FourCC no decoder knows
    odd.write_bytes(avi.read_bytes().replace(b"FMP4", b"ZZZZ"))
    refused(odd, out, "unsupported_type", "codec is not supported", session)


def test_truncated(tmp_path: Path, out: Path, mp4: Path, session: Any) -> None:
    data = mp4.read_bytes()  # moov (the index) at the end: half a file has none
    (tmp_path / "half.mp4").write_bytes(data[:len(data) // 2])
    refused(tmp_path / "half.mp4", out, "undecodable", "truncated", session)
    webm = write_scene(tmp_path / "long.webm", Scene(160, 120, 40), kind="webm")
    data = webm.read_bytes()  # frames, then cut: the demuxer ends quietly at 1.4 of 2.7 s
    (tmp_path / "cut.webm").write_bytes(data[:len(data) * 8 // 10])
    assert probe(tmp_path / "cut.webm").frames == 40
    with pytest.raises(HumancutError) as e:
        remove_video(tmp_path / "cut.webm", out / "out.webm", session=session)
    assert e.value.code == "undecodable" and "truncated" in e.value.message
    assert list(out.iterdir()) == []


def test_corrupt_and_no_decodable_frame(tmp_path: Path, out: Path, mp4: Path,
                                        session: Any) -> None:
    data = bytearray(mp4.read_bytes())
    start, end = data.find(b"mdat") + 8, data.find(b"moov")
    rng = random.Random(1)
    noise = bytearray(data)
    noise[start + 200:start + (end - start) // 2] = rng.randbytes((end - start) // 2 - 200)
    (tmp_path / "noise.mp4").write_bytes(bytes(noise))
    refused(tmp_path / "noise.mp4", out, "undecodable", "decoded", session)
    zeros = bytearray(data)
    zeros[start:end - 8] = bytes(end - 8 - start)
    (tmp_path / "zeros.mp4").write_bytes(bytes(zeros))
    refused(tmp_path / "zeros.mp4", out, "undecodable", "decoded", session)


def test_frame_size_over_the_limit_is_read_from_the_header(tmp_path: Path, out: Path,
                                                           mp4: Path, session: Any) -> None:
    # Its frames are zeros: decoding one would fail as "undecodable", so the size was read
    # from the header alone.
    data = bytearray(mp4.read_bytes())
    start, end = data.find(b"mdat") + 8, data.find(b"moov")
    data[start:end - 8] = bytes(end - 8 - start)
    (tmp_path / "big.mp4").write_bytes(bytes(data))
    small = VideoLimits(max_bytes=LIMITS.max_bytes, max_seconds=60, max_side=159)
    refused(tmp_path / "big.mp4", out, "resolution_too_large", "160x120", session, small)
    assert probe(mp4, VideoLimits(LIMITS.max_bytes, 60, 160)).width == 160


def test_duration_and_bytes_over_the_limits(out: Path, mp4: Path, session: Any) -> None:
    short = VideoLimits(max_bytes=LIMITS.max_bytes, max_seconds=1.0, max_side=1920)
    refused(mp4, out, "duration_too_long", "1.3 s", session, short)  # 20 frames at 15 fps
    tiny = VideoLimits(max_bytes=1000, max_seconds=60, max_side=1920)
    refused(mp4, out, "file_too_large", "MiB", session, tiny)


def test_a_failure_midway_leaves_nothing(out: Path, mp4: Path, session: Any) -> None:
    def stop(done: int, total: int) -> None:
        if done == 12:
            raise KeyboardInterrupt

    for name in ("a.webm", "a.mov", "a.zip", "a.mp4"):
        with pytest.raises(KeyboardInterrupt):
            remove_video(mp4, out / name, session=session, progress=stop)
    assert list(out.iterdir()) == []


def test_an_existing_destination_survives_a_failure(tmp_path: Path, session: Any) -> None:
    dst = tmp_path / "keep.webm"
    dst.write_bytes(b"earlier result")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(HumancutError):
        remove_video(bad, dst, session=session)
    assert dst.read_bytes() == b"earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "keep.webm"]


def test_the_limits_come_from_the_settings(out: Path, mp4: Path, session: Any) -> None:
    from humancut import Settings

    with pytest.raises(HumancutError) as e:
        remove_video(mp4, out / "out.webm", session=session,
                     settings=Settings(video_max_seconds=1.0))
    assert e.value.code == "duration_too_long" and e.value.status == 413
    with pytest.raises(HumancutError) as e:
        remove_video(mp4, out / "out.webm", session=session, settings=Settings(video_max_side=100))
    assert e.value.code == "resolution_too_large"
    assert list(out.iterdir()) == []
