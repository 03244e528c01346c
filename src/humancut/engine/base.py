"""The one small base class every model runner implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..settings import Settings
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
    """A matting model: RGB uint8 HxWx3 in, Matte out. Subclasses hold their own session.

    A subclass names itself, pins its weights in `file`, and is built as `cls(path, settings)`.
    """

    name: ClassVar[str]
    file: ClassVar[ModelFile]

    @abstractmethod
    def __init__(self, path: Path, settings: Settings) -> None: ...

    @abstractmethod
    def predict(self, rgb: np.ndarray, size: int | None = None) -> Matte:
        """Matte `rgb`; `size`, when given, is the long side (px) the model should look at
        instead of its configured one(s)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the session; the model is not used after this."""
