"""The one small base class every model runner implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .assets import ModelFile


@dataclass
class Matte:
    """A model's answer at the input's full resolution.

    alpha: float32 HxW in [0, 1]. foreground: uint8 HxWx3 colour of the person with the
    background unmixed (for soft pixels), or None when the model gives none.
    """

    alpha: np.ndarray
    foreground: np.ndarray | None = None


class Model(ABC):
    """A matting model: RGB uint8 HxWx3 in, Matte out, one view at a time. Subclasses hold
    their own session; which views to take and how to combine them is the pipeline's.

    A subclass names itself, pins its weights in `file`, lists in `options` the Settings
    fields it takes as keyword arguments, and is built as
    `cls(path, device=..., threads=..., **options)`.
    """

    name: ClassVar[str]
    file: ClassVar[ModelFile]
    options: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def __init__(self, path: Path, *, device: str = "auto", threads: int = 0,
                 **options: object) -> None: ...

    @abstractmethod
    def predict(self, rgb: np.ndarray, size: int) -> Matte:
        """Matte `rgb` as seen at `size` px on its long side; the Matte is at `rgb`'s size."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the session; the model is not used after this."""
