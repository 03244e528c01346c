"""The pipeline: decode -> orient -> RGB -> alpha -> compose -> encode, around one model."""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from . import imageops
from .engine import Matte, Model, create_model, refine
from .errors import HumancutError
from .settings import Settings

ImageInput = str | Path | bytes | Image.Image | np.ndarray


@dataclass
class Cut:
    """An encoded result: PNG bytes, its size, and milliseconds per stage."""

    png: bytes
    width: int
    height: int
    timings: dict[str, float] = field(default_factory=dict)


class Remover:
    """Holds one model session and cuts people out of images. Thread-safe.

    >>> remover = Remover()
    >>> remover.remove("photo.jpg", form="whiteBK").save("out.png")
    """

    def __init__(self, settings: Settings | None = None, *, model: Model | None = None):
        self.settings = settings or Settings.from_env()
        self._model = model
        self._lock = threading.Lock()

    @property
    def model(self) -> Model:
        """The model session, created on first use and reused after."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = create_model(self.settings)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self, image: ImageInput, *, max_side: int | None = None) -> np.ndarray:
        """Any supported input as uint8 RGB, EXIF orientation applied."""
        if isinstance(image, np.ndarray):
            if image.dtype != np.uint8 or image.ndim not in (2, 3):
                raise ValueError("numpy input must be a uint8 HxW, HxWx3 or HxWx4 array")
            return imageops.to_rgb(Image.fromarray(image))
        if isinstance(image, Image.Image):
            return imageops.to_rgb(imageops.orient(image))
        if isinstance(image, (str, Path)):
            image = Path(image).read_bytes()
        if isinstance(image, (bytes, bytearray, memoryview)):
            return imageops.to_rgb(imageops.decode(bytes(image), max_side=max_side))
        raise TypeError(f"cannot read an image from {type(image).__name__}")

    def matte(self, rgb: np.ndarray, *, require_person: bool = True) -> Matte:
        """Alpha (and foreground colours) at full resolution; raises when no person.

        One view of the whole photo (fused scales); when no one fills the frame a closer
        whole-photo view, and a zoomed view of small subjects, are added; then clean-up.

        Photos larger than `max_model_side` are matted at that size and the result scaled
        up, which bounds time and memory for multi-megapixel inputs."""
        cap = self.settings.max_model_side
        work = refine.resize_rgb(rgb, cap) if 0 < cap < max(rgb.shape[:2]) else rgb
        matte = self.model.predict(work)
        # Presence is judged on this first view: the closer looks below can find person-like
        # shapes in photos without people (a cat at 768 px).
        if require_person and imageops.person_share(matte.alpha) < self.settings.person_threshold:
            raise HumancutError("ERROR_NO_RECOGNITION_TARGET_DETECTED",
                                "No person was found in the image.")
        if self.settings.closer_size and \
                refine.subject_extent(matte.alpha) < self.settings.closer_extent:
            matte = self._closer(work, matte)
        if self.settings.zoom:
            matte = self._zoom(work, matte)
        if self.settings.clean_up:
            matte = Matte(refine.clean_up(matte.alpha, self.settings.bystander_share),
                          matte.foreground)
        if work is not rgb:
            matte = _resize_matte(matte, rgb.shape[:2])
        return matte

    def _view(self, rgb: np.ndarray, min_side: int, model_size: int | None = None) -> Matte:
        """Matte `rgb` enlarged to `min_side` px when smaller; the result at `rgb`'s size."""
        big = refine.resize_rgb(rgb, min_side) if max(rgb.shape[:2]) < min_side else rgb
        return _resize_matte(self.model.predict(big, size=model_size), rgb.shape[:2])

    def _closer(self, rgb: np.ndarray, matte: Matte) -> Matte:
        """No one fills the frame: look at the whole image again at `closer_size` (enlarged
        when smaller) and keep the union, which finds small and distant people."""
        size = self.settings.closer_size
        return _union(matte, self._view(rgb, size, model_size=size))

    def _zoom(self, rgb: np.ndarray, matte: Matte) -> Matte:
        """Small subjects: infer again on an enlarged crop around them and keep the union
        inside the crop."""
        box = refine.zoom_box(matte.alpha)
        if box is None:
            return matte
        top, bottom, left, right = box
        near = self._view(rgb[top:bottom, left:right], self.settings.zoom_size)
        alpha = np.zeros_like(matte.alpha)  # the crop's view, placed in the full frame
        alpha[top:bottom, left:right] = near.alpha
        foreground = None
        if near.foreground is not None:
            foreground = np.zeros(rgb.shape, np.uint8)
            foreground[top:bottom, left:right] = near.foreground
        return _union(matte, Matte(alpha, foreground))

    def remove(self, image: ImageInput, form: str = "rgba") -> Image.Image:
        """The cut-out as a PIL image in one of imageops.FORMS."""
        if form not in imageops.FORMS:
            raise ValueError(f"form must be one of {', '.join(imageops.FORMS)}, not {form!r}")
        rgb = self.load(image)
        matte = self.matte(rgb)
        return imageops.render(rgb, matte.alpha, matte.foreground, form)

    def cut(self, data: bytes, form: str = "rgba", *, max_side: int | None = None) -> Cut:
        """Encoded image bytes in, PNG out, with the time each stage took."""
        t0 = time.perf_counter()
        rgb = self.load(data, max_side=max_side)
        t1 = time.perf_counter()
        matte = self.matte(rgb)
        t2 = time.perf_counter()
        out = imageops.render(rgb, matte.alpha, matte.foreground, form)
        png = imageops.encode_png(out, self.settings.png_compress_level)
        t3 = time.perf_counter()
        return Cut(png, out.width, out.height, {"decode_ms": (t1 - t0) * 1000,
                                                "model_ms": (t2 - t1) * 1000,
                                                "encode_ms": (t3 - t2) * 1000})

    def remove_bytes(self, data: bytes, form: str = "rgba", *,
                     max_side: int | None = None) -> bytes:
        """Encoded image bytes in, PNG bytes out (what the CLI uses)."""
        return self.cut(data, form, max_side=max_side).png


def _union(a: Matte, b: Matte) -> Matte:
    """Per pixel, the view that sees more person: max alpha, and that view's colours."""
    alpha = np.maximum(a.alpha, b.alpha)
    if a.foreground is None or b.foreground is None:
        return Matte(alpha, a.foreground)
    return Matte(alpha, np.where((b.alpha > a.alpha)[..., None], b.foreground, a.foreground))


def _resize_matte(matte: Matte, shape: tuple[int, int]) -> Matte:
    if matte.alpha.shape == shape:
        return matte
    fg = None if matte.foreground is None else refine.resize_colours(matte.foreground, shape)
    return Matte(refine.resize_alpha(matte.alpha, shape), fg)


@functools.lru_cache(maxsize=1)
def default_remover() -> Remover:
    """One shared Remover for `humancut.remove`, built from the environment on first use."""
    return Remover()


def remove(image: ImageInput, form: str = "rgba", *, remover: Remover | None = None) -> Image.Image:
    """Cut the person out of `image` (path, bytes, PIL image or numpy array)."""
    return (remover or default_remover()).remove(image, form)
