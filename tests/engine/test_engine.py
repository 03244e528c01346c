"""The real model on the astronaut portrait, the output forms, orientation and input modes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import humancut
from humancut import HumancutError, imageops
from humancut.engine.rvm import downsample_ratio
from tests.support.images import decode, encode, landscape


def test_alpha_is_person_shaped(remover, astronaut):
    alpha = remover.matte(np.asarray(astronaut)).alpha
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    assert alpha[60:120, 180:270].mean() > 0.95  # face
    assert alpha[:64, :64].mean() < 0.05 and alpha[:64, -64:].mean() < 0.05  # top corners
    assert 0.25 < alpha.mean() < 0.6


def test_downsample_ratio_targets_inference_size():
    assert downsample_ratio(1000, 2000, 512) == pytest.approx(0.256)
    assert downsample_ratio(300, 200, 512) == 1.0  # never upscales


@pytest.fixture(scope="module")
def forms(remover, astronaut_bytes):
    return {f: decode(remover.remove_bytes(astronaut_bytes, f)) for f in imageops.FORMS}


def test_rgba_form(forms):
    img = forms["rgba"]
    assert img.format == "PNG" and img.mode == "RGBA" and img.size == (512, 512)
    a = np.asarray(img)[..., 3]
    assert a[60:120, 180:270].min() > 230 and a[:64, :64].max() == 0


def test_mask_form_matches_rgba_alpha(forms):
    mask = forms["mask"]
    assert mask.mode == "L" and mask.size == (512, 512)
    np.testing.assert_array_equal(np.asarray(mask), np.asarray(forms["rgba"])[..., 3])


def test_white_background_form(forms):
    img = forms["whiteBK"]
    assert img.mode == "RGB" and img.size == (512, 512)
    px = np.asarray(img)
    background = np.asarray(forms["mask"]) == 0
    assert background.sum() > 10_000
    assert (px[background] == 255).all()
    # The face keeps the photo's colours.
    assert px[60:120, 180:270].mean() < 200


def test_crop_form_is_tight(forms):
    crop = forms["crop"]
    assert crop.mode == "RGBA"
    box = imageops.bounding_box(np.asarray(forms["mask"]))
    assert crop.size == (box[2] - box[0], box[3] - box[1])
    a = np.asarray(crop)[..., 3]
    for edge in (a[0], a[-1], a[:, 0], a[:, -1]):
        assert edge.max() > 0  # every border touches the person
    np.testing.assert_array_equal(np.asarray(crop), np.asarray(forms["rgba"])[
        box[1]:box[3], box[0]:box[2]])


def test_soft_edges_have_no_dark_halo(remover, astronaut):
    """On white, soft edge pixels must not be darker than both the person and white."""
    rgb = np.asarray(astronaut)
    matte = remover.matte(rgb)
    a8 = imageops.alpha_to_u8(matte.alpha)
    soft = (a8 > 20) & (a8 < 235)
    assert soft.sum() > 200
    white = np.asarray(imageops.on_white(rgb, a8, matte.foreground)).astype(float)
    naive = np.asarray(imageops.on_white(rgb, a8, None)).astype(float)
    # The foreground estimate unmixes the background: where the photo at a soft pixel is dark
    # (the flag, the stand, the helmet's rim), the naive composite carries that dark into a
    # halo and the unmixed one is lighter. (Over the light backdrop unmixing rightly darkens
    # the naive composite's washed-out edge, so all soft pixels together say nothing.)
    dark = soft & (rgb.mean(axis=2) < 100)
    assert dark.sum() > 200
    assert white[dark].mean() >= naive[dark].mean()


def test_exif_rotated_input_is_oriented(remover, astronaut):
    upright = astronaut.crop((0, 0, 512, 400))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # pixels stored turned left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    out = decode(remover.remove_bytes(data, "mask"))
    assert out.size == upright.size == (512, 400)
    ref = np.asarray(decode(remover.remove_bytes(encode(upright, "JPEG", quality=95), "mask")))
    got = np.asarray(out)
    iou = ((got > 127) & (ref > 127)).sum() / ((got > 127) | (ref > 127)).sum()
    assert iou > 0.95


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "RGBA"])
def test_every_input_mode_gives_an_rgba_cutout(remover, astronaut, mode):
    img = astronaut.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    out = decode(remover.remove_bytes(encode(img, fmt), "rgba"))
    assert out.mode == "RGBA" and out.size == (512, 512)
    a = np.asarray(out)[..., 3]
    assert a[60:120, 180:270].mean() > 200 and a[:64, :64].mean() < 20


def test_input_transparency_does_not_leak(remover, astronaut):
    rgba = astronaut.convert("RGBA")
    opaque = np.asarray(decode(remover.remove_bytes(encode(rgba), "mask")))
    plain = np.asarray(decode(remover.remove_bytes(encode(astronaut), "mask")))
    np.testing.assert_array_equal(opaque, plain)  # alpha=255 everywhere changes nothing
    # A fully transparent input is all background: the model sees white, finds no person.
    clear = rgba.copy()
    clear.putalpha(0)
    with pytest.raises(HumancutError) as err:
        remover.remove_bytes(encode(clear), "rgba")
    assert err.value.code == "no_person"


def test_photo_without_person_is_refused(remover):
    with pytest.raises(HumancutError) as err:
        remover.remove(landscape())
    assert err.value.code == "no_person"


def test_library_accepts_path_bytes_pil_and_numpy(remover, astronaut, astronaut_bytes, tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(astronaut_bytes)
    results = [humancut.remove(x, "mask", remover=remover)
               for x in (path, str(path), astronaut_bytes, astronaut, np.asarray(astronaut))]
    for r in results:
        assert r.mode == "L" and r.size == (512, 512)
    # Decoding the same JPEG gives the same pixels whichever way it came in.
    np.testing.assert_array_equal(np.asarray(results[0]), np.asarray(results[3]))
    with pytest.raises(ValueError):
        humancut.remove(astronaut, "nope", remover=remover)


def test_large_photos_are_matted_at_the_capped_size(settings, astronaut):
    big = np.asarray(astronaut.resize((1500, 1500), Image.Resampling.LANCZOS))
    capped = humancut.Remover(settings.replace(max_model_side=600))
    calls: list[tuple[int, ...]] = []
    predict = capped.model.predict
    capped.model.predict = lambda rgb, size: calls.append(rgb.shape) or predict(rgb, size)  # type: ignore[method-assign]
    matte = capped.matte(big)
    assert calls[0] == (600, 600, 3)  # the model saw the capped size
    assert matte.alpha.shape == (1500, 1500) and matte.foreground.shape == (1500, 1500, 3)
    a = matte.alpha
    assert a[180:360, 540:810].mean() > 0.95 and a[:190, :190].mean() < 0.05  # face, corner


@pytest.mark.parametrize("background", ["brick", "gravel"])
def test_closer_views_find_more_of_a_small_person(remover, astronaut, background):
    """The astronaut's bust (rows 0-340, above the helmet she holds) cut out, shrunk to 80 px
    wide and laid on a 900x600 texture: the closer whole-photo view and the zoom (defaults)
    recover more of her than one view does. (The bust: since the clean-up drops the helmet,
    a whole-photo cut-out leaves a helmet-shaped patch of texture against her arm, which is
    about the photo made here, not about finding a small person.)"""
    data = pytest.importorskip("skimage.data")
    import dataclasses

    from humancut.metrics import iou
    from humancut.remover import Remover

    width, height, top, left = 80, 53, 300, 400  # 512x340 shrunk
    alpha = remover.matte(np.asarray(astronaut)).alpha[:340]
    small_alpha = np.asarray(Image.fromarray(alpha).resize((width, height)))[..., None]
    bust = astronaut.crop((0, 0, 512, 340))
    small = np.asarray(bust.resize((width, height)), dtype=np.float32)
    texture = Image.fromarray(getattr(data, background)()).convert("RGB").resize((900, 600))
    canvas = np.asarray(texture, dtype=np.float32).copy()
    region = canvas[top:top + height, left:left + width]
    canvas[top:top + height, left:left + width] = small * small_alpha + region * (1 - small_alpha)
    want = np.zeros(canvas.shape[:2], np.float32)
    want[top:top + height, left:left + width] = small_alpha[..., 0]

    one_view = Remover(dataclasses.replace(remover.settings, closer_size=0, zoom=False),
                       model=remover.model)
    photo = canvas.astype(np.uint8)
    found = iou(remover.matte(photo).alpha, want)
    alone = iou(one_view.matte(photo).alpha, want)
    assert found >= 0.9
    assert found >= alone + 0.01
