"""Presets: named sets of pipeline and encoding settings along the quality-per-CPU frontier.

`Settings.from_env` applies the chosen preset beneath anything set explicitly (a
`HUMANCUT_*` variable or a flag), so `--preset fast --zoom` is the fast preset with the zoom
on. The values were chosen by measurement on the shared evaluation sets
(docs/quality.md#presets); `balanced` equals the Settings defaults.
"""

from __future__ import annotations

PRESETS: dict[str, dict[str, object]] = {
    # One cheap view on a small working copy; a closer look and a zoom only when people are
    # small; clean-up kept (cheap at this size, and it pays).
    "fast": {"inference_size": 320, "fusion_size": 0, "fuse_above": 0.0, "closer_size": 512,
             "zoom": True, "zoom_size": 384, "clean_up": True, "max_model_side": 640,
             "view_scale": 2.0, "flip": False, "png_encoder": "isal", "png_compress_level": 1},
    # The quality of the pipeline before presets (better on portraits) at about 60 % of its
    # CPU: the same views, each on a copy of at most twice its encoder size, at most 640 px.
    "balanced": {"inference_size": 512, "fusion_size": 320, "fuse_above": 0.0,
                 "closer_size": 768, "zoom": True, "zoom_size": 512, "clean_up": True,
                 "max_model_side": 640, "view_scale": 2.0, "flip": False,
                 "png_encoder": "isal", "png_compress_level": 1},
    # Quality first, whatever it costs: the mirror image too, smallest PNGs.
    "best": {"inference_size": 512, "fusion_size": 320, "fuse_above": 0.0, "closer_size": 768,
             "zoom": True, "zoom_size": 512, "clean_up": True, "max_model_side": 640,
             "view_scale": 2.0, "flip": True, "png_encoder": "isal", "png_compress_level": 2},
}
DEFAULT_PRESET = "balanced"


def preset_values(name: str) -> dict[str, object]:
    """The settings a preset fills in; ValueError naming the known ones otherwise."""
    try:
        return dict(PRESETS[name])
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}") from None
