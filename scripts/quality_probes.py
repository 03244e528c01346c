"""How far could post-processing or scale choice take the portrait-mattes scores?

    .venv/bin/python scripts/quality_probes.py [../shared/eval/portrait-mattes]

Prints mean SAD / MSE of the default pipeline, then of:
- an oracle that picks, per photo and with the label, the best of 28 scale choices (one
  view, or two averaged, at 256-640 px; clean-up after): a bound on what fusion can give;
- the default alpha smoothed by a Gaussian or by a guided filter with the photo as guide;
- closed-form matting of a trimap band around the default alpha (only with pymatting
  installed; it is not a humancut dependency).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

from humancut import Remover, Settings
from humancut.engine import refine
from humancut.evaluate import delivered, pairs, read_label
from humancut.metrics import mse, sad

ROOT = Path(__file__).resolve().parents[1]
SIZES = (256, 320, 384, 448, 512, 576, 640)


def guided_filter(guide: np.ndarray, alpha: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a grey guide in [0, 1]."""
    def box(x: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(x, size=2 * radius + 1, mode="reflect")

    mean_i, mean_p = box(guide), box(alpha)
    a = (box(guide * alpha) - mean_i * mean_p) / (box(guide * guide) - mean_i ** 2 + eps)
    b = mean_p - a * mean_i
    return np.clip(box(a) * guide + box(b), 0, 1)


def scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    pred = delivered(pred)
    return sad(pred, gt), mse(pred, gt)


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/eval/portrait-mattes"
    remover = Remover(Settings.from_env())
    model = remover.model
    try:
        from pymatting import estimate_alpha_cf
    except ImportError:
        estimate_alpha_cf = None

    rows: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, value: tuple[float, float]) -> None:
        rows.setdefault(name, []).append(value)

    for image, label in pairs(folder / "images", folder / "alpha"):
        rgb = remover.load(image)
        gt = read_label(label)
        alpha = remover.matte(rgb, require_person=False).alpha
        add("defaults", scores(alpha, gt))

        views = {size: model.predict(rgb, size=size).alpha for size in SIZES}
        choices = [(s,) for s in SIZES] + list(itertools.combinations(SIZES, 2))
        options = [scores(refine.clean_up(np.mean([views[s] for s in c], axis=0)), gt)
                   for c in choices]
        add(f"oracle: best of {len(choices)} scale choices per photo",
            (min(o[0] for o in options), min(o[1] for o in options)))

        grey = rgb.mean(axis=2).astype(np.float32) / 255
        for sigma in (0.7, 1.0, 2.0):
            add(f"Gaussian blur sigma {sigma}", scores(ndimage.gaussian_filter(alpha, sigma), gt))
        for radius in (2, 4, 8):
            add(f"guided filter r {radius} eps 1e-3",
                scores(guided_filter(grey, alpha, radius, 1e-3), gt))
        if estimate_alpha_cf is not None:
            band = ndimage.binary_dilation((alpha > 0.02) & (alpha < 0.98), iterations=3)
            trimap = np.where(alpha >= 0.5, 1.0, 0.0)
            trimap[band] = 0.5
            closed = estimate_alpha_cf(rgb.astype(np.float64) / 255, trimap).astype(np.float32)
            add("closed-form matting of the band (pymatting)", scores(closed, gt))
            add("closed-form averaged with the model", scores((closed + alpha) / 2, gt))

    for name, values in rows.items():
        print(f"{name:55s} SAD {np.mean([v[0] for v in values]):.3f}  "
              f"MSE {np.mean([v[1] for v in values]):.5f}")


if __name__ == "__main__":
    main()
