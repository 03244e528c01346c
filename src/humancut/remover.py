"""The pipeline: decode -> orient -> RGB -> alpha -> compose -> encode, around one model."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from . import bands, imageops, memory
from .engine import Matte, Model, create_model, refine, views
from .errors import HumancutError
from .job import Cut, Job
from .output import Output
from .settings import Settings

ImageInput = str | Path | bytes | Image.Image | np.ndarray
TRIM_PIXELS = 4_000_000  # after a photo this large, freed heap memory goes back to the OS


class Remover:
    """Holds one model session and cuts people out of images. Thread-safe.

    >>> remover = Remover()
    >>> remover.remove("photo.jpg", form="whiteBK").save("out.png")
    """

    def __init__(self, settings: Settings | None = None, *, model: Model | None = None):
        self.settings = settings or Settings.from_env()
        self._model = model
        self._lock = threading.Lock()
        self._budget = memory.PixelBudget(self.settings.max_pixels_in_flight)

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

        One look at the whole photo (scales fused, optionally the mirror image too); when no
        one fills the frame a closer whole-photo look, and a zoomed look at small subjects,
        are added; then clean-up.

        Photos larger than `max_model_side` are matted at that size and the result scaled
        up, which bounds time and memory for multi-megapixel inputs."""
        s = self.settings
        work = refine.resize_rgb(rgb, s.max_model_side) \
            if 0 < s.max_model_side < max(rgb.shape[:2]) else rgb
        return views.resized(self.matte_work(work, require_person=require_person),
                             rgb.shape[:2])

    def work_of(self, photo: Image.Image) -> np.ndarray:
        """The photo as the model's pipeline sees it: at most `max_model_side` long (the
        same pixels as refine.resize_rgb of the whole array, without copying it first)."""
        side = self.settings.max_model_side
        if 0 < side < max(photo.size):
            return refine.resize_image(photo, side)
        return np.asarray(photo)

    def matte_work(self, work: np.ndarray, *, require_person: bool = True) -> Matte:
        """`matte` at the working size (`work` already scaled to max_model_side)."""
        s = self.settings
        matte = self._first_look(work)
        # Presence is judged on this first look: the closer looks below can find person-like
        # shapes in photos without people (a cat at 768 px).
        if require_person and imageops.person_share(matte.alpha) < s.person_threshold:
            raise HumancutError("no_person", "No person was found in the image.")
        if s.closer_size and refine.subject_extent(matte.alpha) < s.closer_extent:
            # No one fills the frame: look at the whole photo again, closer, and keep the
            # union, which finds small and distant people.
            matte = views.union(matte, self._look(work, [s.closer_size], s.closer_size))
        if s.zoom and (box := refine.zoom_box(matte.alpha)) is not None:
            # Small subjects: look again at an enlarged crop around them.
            top, bottom, left, right = box
            near = self._look(work[top:bottom, left:right], self.sizes, s.zoom_size)
            matte = views.union(matte, views.place(near, box, work.shape))
        if s.clean_up:
            matte = Matte(refine.clean_up(matte.alpha, s.bystander_share), matte.foreground)
        return matte

    @property
    def sizes(self) -> list[int]:
        """The scales (long side, px) of one look: the inference size, and the fusion size."""
        s = self.settings
        return [s.inference_size] + (
            [s.fusion_size] if 0 < s.fusion_size != s.inference_size else [])

    def _first_look(self, work: np.ndarray) -> Matte:
        """The fused scales; adaptive (`fuse_above` > 0): the first scale alone, and the
        second only when the first is unsure of enough of the person's pixels."""
        s, sizes = self.settings, self.sizes
        if s.fuse_above <= 0 or len(sizes) < 2:
            return self._look(work, sizes)
        first = self._look(work, sizes[:1])
        if refine.uncertain_share(first.alpha) < s.fuse_above:
            return first
        return views.fuse([first, self._look(work, sizes[1:])], work)

    def _look(self, rgb: np.ndarray, sizes: list[int], min_side: int = 0) -> Matte:
        """One look at `rgb` (enlarged to `min_side` px when smaller): a view per size, and
        per size its mirror image when `flip` is on, fused; at `rgb`'s size."""
        big = refine.resize_rgb(rgb, min_side) if max(rgb.shape[:2]) < min_side else rgb
        seen = [self._view(big, size) for size in sizes]
        if self.settings.flip:
            mirror = np.ascontiguousarray(big[:, ::-1])
            seen += [views.mirrored(self._view(mirror, size)) for size in sizes]
        return views.resized(views.fuse(seen, big), rgb.shape[:2])

    def _view(self, rgb: np.ndarray, size: int) -> Matte:
        """One model view at `size`; with `view_scale` the model gets the photo at most
        view_scale x size px long (less work after the encoder), scaled back after."""
        side = round(self.settings.view_scale * size)
        if 0 < side < max(rgb.shape[:2]):
            return views.resized(self.model.predict(refine.resize_rgb(rgb, side), size),
                                 rgb.shape[:2])
        return self.model.predict(rgb, size)

    def remove(self, image: ImageInput, form: str = "rgba") -> Image.Image:
        """The cut-out as a PIL image in one of imageops.FORMS."""
        if form not in imageops.FORMS:
            raise ValueError(f"form must be one of {', '.join(imageops.FORMS)}, not {form!r}")
        rgb = self.load(image)
        matte = self.matte(rgb)
        return imageops.render(rgb, matte.alpha, matte.foreground, form)

    def cut(self, data: bytes, form: str = "rgba", *, max_side: int | None = None,
            options: Output | None = None) -> Cut:
        """Encoded image bytes in, the `form` as PNG out (or what `options` ask for), with
        the time each stage took. Lean on memory: the matte stays at its working size and
        the result is upscaled, composed and encoded in bands (humancut.bands); photos
        wait while `max_pixels_in_flight` are being processed."""
        w, h = imageops.open_image(data, max_side=max_side).size
        with self._budget.hold(w * h):
            try:
                return self._cut(data, form, max_side, options)
            finally:
                if w * h >= TRIM_PIXELS:
                    memory.trim()

    def _cut(self, data: bytes, form: str, max_side: int | None,
             options: Output | None) -> Cut:
        t0 = time.perf_counter()
        photo = self.load_photo(data, max_side=max_side)
        t1 = time.perf_counter()
        matte = self.matte_work(self.work_of(photo))
        lean = bands.Lean(photo, matte.alpha, matte.foreground)
        del matte
        t2 = time.perf_counter()
        level, encoder = self.settings.png_compress_level, self.settings.png_encoder
        if options is None:
            cut = bands.render_form(lean, form, level, encoder)
        else:
            cut = bands.finish(lean, options, compress_level=level, png_encoder=encoder)
        t3 = time.perf_counter()
        cut.timings = {"decode_ms": (t1 - t0) * 1000, "model_ms": (t2 - t1) * 1000,
                       "encode_ms": (t3 - t2) * 1000}
        return cut

    def load_photo(self, data: bytes, *, max_side: int | None = None) -> Image.Image:
        """Encoded bytes as a Pillow RGB image, EXIF orientation applied (no numpy copy:
        Pillow's own pixels are what the bands read)."""
        img = imageops.decode(data, max_side=max_side)
        return img if img.mode == "RGB" else Image.fromarray(imageops.to_rgb(img))

    def encode(self, rgb: np.ndarray, matte: Matte, form: str = "rgba",
               fmt: str = "png") -> Cut:
        """The `form` of a matted photo as PNG (the configured encoder and level), or as
        JPEG (flattened on white) or WebP."""
        out = imageops.render(rgb, matte.alpha, matte.foreground, form)
        s = self.settings
        return Cut(imageops.encode(out, fmt, compress_level=s.png_compress_level,
                                   png_encoder=s.png_encoder), out.width, out.height,
                   content_type=f"image/{'jpeg' if fmt == 'jpg' else fmt}")

    def run(self, job: Job) -> Cut:
        return self.cut(job.data, job.form, max_side=job.max_side, options=job.options)

    def remove_bytes(self, data: bytes, form: str = "rgba", *,
                     max_side: int | None = None) -> bytes:
        """Encoded image bytes in, PNG bytes out (what the CLI uses)."""
        return self.cut(data, form, max_side=max_side).png


@functools.lru_cache(maxsize=1)
def default_remover() -> Remover:
    """One shared Remover for `humancut.remove`, built from the environment on first use."""
    return Remover()


def remove(image: ImageInput, form: str = "rgba", *, remover: Remover | None = None) -> Image.Image:
    """Cut the person out of `image` (path, bytes, PIL image or numpy array)."""
    return (remover or default_remover()).remove(image, form)
