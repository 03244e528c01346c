"""Labelled clips on disk, read and written one frame at a time with PyAV.

The layout is DAVIS's (../shared/eval/video/davis): `DIR/<seq>.mp4` and `DIR/<seq>/NNNNN.png`,
one 8-bit label per frame (`00000.png` = the first decoded frame), binary or soft. The
composite clips are written in the same layout, so one reader scores both."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")


@dataclass(frozen=True)
class LabelledClip:
    name: str
    video: Path
    labels: Path  # folder of NNNNN.png

    def label_paths(self) -> list[Path]:
        return sorted(p for p in self.labels.iterdir() if p.suffix.lower() == ".png")

    def truth(self) -> Iterator[np.ndarray]:
        """The labels in frame order as float32 alpha in [0, 1]."""
        for path in self.label_paths():
            yield np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255


def labelled_clips(root: Path, names: Iterable[str] | None = None) -> list[LabelledClip]:
    """The clips of `root` that have a label folder beside them (sorted by name); `names`
    keeps only those (a name not found is an error, so a typo does not pass unseen)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    found = {p.stem: LabelledClip(p.stem, p, root / p.stem) for p in sorted(root.iterdir())
             if p.suffix.lower() in VIDEO_SUFFIXES and (root / p.stem).is_dir()}
    if names is not None:
        wanted = list(names)
        missing = [n for n in wanted if n not in found]
        if missing:
            raise FileNotFoundError(f"{root}: no labelled clip named {', '.join(missing)}")
        found = {n: found[n] for n in wanted}
    if not found:
        raise FileNotFoundError(f"{root}: no clips with labels "
                                "(<name>.mp4 beside <name>/00000.png)")
    return list(found.values())


def decode(path: Path, limit: int | None = None) -> Iterator[np.ndarray]:
    """RGB uint8 frames in decoding order, at most `limit`."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for i, frame in enumerate(container.decode(stream)):
            if limit is not None and i >= limit:
                break
            yield frame.to_ndarray(format="rgb24")


class H264Writer:
    """An H.264 `yuv420p` MP4, as a phone uploads (or, `lossless`, the same frames exactly
    as another decoder would hand them back: qp 0 keeps the 4:2:0 planes as they are)."""

    def __init__(self, path: Path, width: int, height: int, fps: int = 30, *,
                 crf: int = 18, lossless: bool = False) -> None:
        import av

        self.container = av.open(str(path), "w")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height = width, height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"qp": "0"} if lossless else {"crf": str(crf), "preset": "fast"}

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()


def trimmed(clip: LabelledClip, frames: int, folder: Path) -> LabelledClip:
    """The first `frames` frames of `clip` as a lossless clip in `folder` (its labels
    linked), so that every system is scored on the same frames."""
    out = folder / f"{clip.name}.mp4"
    writer: H264Writer | None = None
    for rgb in decode(clip.video, frames):
        if writer is None:
            writer = H264Writer(out, rgb.shape[1], rgb.shape[0], lossless=True)
        writer.write(rgb)
    if writer is None:
        raise ValueError(f"{clip.video}: no frame decodes")
    writer.close()
    labels = folder / clip.name
    labels.mkdir(exist_ok=True)
    for path in clip.label_paths()[:frames]:
        (labels / path.name).symlink_to(path.resolve())
    return LabelledClip(clip.name, out, labels)
