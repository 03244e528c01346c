"""What a runner carries to where the model runs (`Job`) and brings back (`Cut`): below the
pipeline, the runners and the API, which all share them. Picklable (Ray sends them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .options import Output


@dataclass
class Cut:
    """An encoded result: its bytes and media type, its size, milliseconds per stage, and
    where the subject is in it (top, left, width, height; when the Job asked for Output)."""

    data: bytes
    width: int
    height: int
    timings: dict[str, float] = field(default_factory=dict)
    content_type: str = "image/png"
    foreground: tuple[int, int, int, int] | None = None

    @property
    def png(self) -> bytes:
        """The bytes, for callers that only ever ask for PNG (the form path)."""
        return self.data


@dataclass(frozen=True)
class Job:
    """One cut-out to make, as a runner carries it to where the model runs (picklable)."""

    data: bytes  # the encoded photo
    form: str = "rgba"  # one of imageops.FORMS
    max_side: int | None = None  # refuse photos with a larger side; None = any size
    options: Output | None = None  # remove.bg-style output; None = `form` as PNG
