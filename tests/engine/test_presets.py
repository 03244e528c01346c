"""Presets fill in settings beneath explicit ones; each preset's pipeline cuts the astronaut;
the overlapped folder batch writes what one-at-a-time cutting writes; the PNG writer is
lossless. No timings here (docs/performance.md has them)."""

from __future__ import annotations

import dataclasses
import functools
import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from humancut import Remover, Settings, batch, png
from humancut.cli import build_parser, settings_from
from humancut.presets import PRESETS
from tests.support.images import ASTRONAUT


def test_balanced_is_the_default_and_equals_the_settings_defaults():
    plain = Settings()
    assert plain.preset == "balanced" == Settings.from_env({}).preset
    assert {k: getattr(plain, k) for k in PRESETS["balanced"]} == PRESETS["balanced"]
    assert Settings.from_env({}) == plain


@pytest.mark.parametrize("name", list(PRESETS))
def test_a_preset_fills_in_its_values(name):
    s = Settings.from_env({"HUMANCUT_PRESET": name})
    assert {k: getattr(s, k) for k in PRESETS[name]} == PRESETS[name]
    assert Settings.from_env({}, preset=name) == s


def test_explicit_settings_win_over_the_preset():
    env = {"HUMANCUT_PRESET": "fast", "HUMANCUT_ZOOM": "1", "HUMANCUT_INFERENCE_SIZE": "448"}
    s = Settings.from_env(env)
    assert s.zoom is True and s.inference_size == 448  # the variables win
    assert s.fusion_size == PRESETS["fast"]["fusion_size"]  # the rest is the preset's
    s = Settings.from_env(env, inference_size=384, preset="best")  # keywords win over both
    assert s.inference_size == 384 and s.zoom is True
    assert s.png_compress_level == PRESETS["best"]["png_compress_level"]


def test_flags_choose_the_preset_and_win_over_it(monkeypatch):
    monkeypatch.setenv("HUMANCUT_PRESET", "best")
    monkeypatch.setenv("HUMANCUT_CLOSER_SIZE", "0")
    args = build_parser().parse_args(["eval", "i", "a", "--preset", "fast", "--zoom",
                                      "--fusion-size", "256"])
    s = settings_from(args)
    assert s.preset == "fast" and s.zoom is True and s.fusion_size == 256 and s.closer_size == 0
    assert s.max_model_side == PRESETS["fast"]["max_model_side"]
    for command in (["cut", "x"], ["serve"], ["bench"]):
        assert build_parser().parse_args([*command, "--preset", "best"]).preset == "best"


def test_an_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="HUMANCUT_PRESET='turbo'.*one of fast, balanced, best"):
        Settings.from_env({"HUMANCUT_PRESET": "turbo"})


@functools.cache
def astronaut_cut(preset: str) -> Image.Image:
    remover = Remover(Settings.from_env({}, preset=preset, threads=2))
    return Image.open(io.BytesIO(remover.cut(ASTRONAUT.read_bytes()).data))


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_cuts_the_astronaut(name):
    img = astronaut_cut(name)
    assert img.mode == "RGBA" and img.size == (512, 512)
    alpha = np.asarray(img.getchannel("A"), dtype=np.float32) / 255
    assert alpha[60:120, 180:270].mean() > 0.95  # face
    assert alpha[:64, :64].mean() < 0.05 and alpha[:64, -64:].mean() < 0.05  # top corners
    assert 0.25 < alpha.mean() < 0.6


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_helmet_she_holds_is_decided_not_grey(name):
    """The helmet (rows 340-512, columns 270-430) came out as stair-stepped blocks of
    half-transparent grey (23 % of the region with `balanced`, 2599 of its pixels the centre
    of an 8x8 all-grey block): at most 5 % may be half-transparent now, in no grey block."""
    alpha = np.asarray(astronaut_cut(name).getchannel("A"), dtype=np.float32) / 255
    region = alpha[340:512, 270:430]
    grey = ((region > 0.15) & (region < 0.85)).astype(np.float32)
    assert grey.mean() <= 0.05
    blocks = ndimage.uniform_filter(grey, 8, mode="constant") > 0.999
    assert blocks.mean() < 0.01
    assert region[:, :10].mean() > 0.9  # her arm and suit at the region's left stay opaque


def test_the_overlapped_batch_writes_what_one_at_a_time_writes(tmp_path, astronaut):
    remover = Remover(Settings.from_env({}, preset="fast", threads=2))
    sources = []
    for i, size in enumerate((512, 384, 300)):
        path = tmp_path / "in" / f"p{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        astronaut.crop((0, 0, size, 512)).save(path, quality=90)
        sources.append(path)
    broken = tmp_path / "in" / "broken.jpg"
    broken.write_bytes(b"not an image")
    jobs = [(src, tmp_path / "out" / (src.stem + ".png")) for src in [*sources, broken]]
    jobs.insert(1, (tmp_path / "in" / "gone.jpg", tmp_path / "out" / "gone.png"))
    seen: list[str] = []
    failures = batch.cut_all(remover, jobs, "whiteBK", lambda src: seen.append(src.name))
    assert seen == [src.name for src, _ in jobs]  # the progress in order, one each
    assert [(src.name, why.split(":")[0]) for src, why in failures] == [
        ("gone.jpg", "FileNotFoundError"), ("broken.jpg", "unsupported_type")]
    for src in sources:
        alone = remover.remove_bytes(src.read_bytes(), "whiteBK")
        assert (tmp_path / "out" / (src.stem + ".png")).read_bytes() == alone
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png", "p2.png"]


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "LA"])
@pytest.mark.parametrize("level", [0, 1, 3, 9])
def test_the_png_writer_is_lossless(astronaut, mode, level):
    img = astronaut.crop((100, 50, 333, 250)).convert(mode)
    if mode == "RGBA":  # a real alpha ramp, and transparent pixels
        pixels = np.asarray(img).copy()
        pixels[..., 3] = np.linspace(0, 255, pixels.shape[1], dtype=np.uint8)[None]
        img = Image.fromarray(pixels, "RGBA")
    for encoder in png.ENCODERS:
        back = Image.open(io.BytesIO(png.encode(img, level, encoder)))
        back.load()
        assert back.mode == img.mode and back.size == img.size
        assert np.array_equal(np.asarray(back), np.asarray(img)), encoder


def test_the_png_writer_uses_isal_when_installed():
    pytest.importorskip("isal")
    data = png.encode(Image.new("RGB", (4, 3), (9, 8, 7)), 1, "isal")
    assert data.startswith(b"\x89PNG") and dataclasses.is_dataclass(Settings)
    assert data != png.encode(Image.new("RGB", (4, 3), (9, 8, 7)), 1, "pillow")
    with pytest.raises(ValueError, match="isal, pillow"):
        png.encode(Image.new("L", (1, 1)), 1, "fpng")
