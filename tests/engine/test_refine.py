from __future__ import annotations

import numpy as np
import pytest

from humancut.engine import refine


def person(h: int = 100, w: int = 100) -> np.ndarray:
    a = np.zeros((h, w), np.float32)
    a[20:90, 30:70] = 1.0
    return a


def test_far_speck_is_dropped_near_piece_and_group_member_kept():
    a = person(200, 200)
    a[5:8, 190:193] = 1.0  # a speck far away
    a[20:30, 72:76] = 1.0  # a small piece next to the body (a hand)
    a[150:190, 150:175] = 1.0  # another person, big enough to be part of a group
    out = refine.drop_far_blobs(a)
    assert out[6, 191] == 0
    assert out[25, 74] == 1 and out[160, 160] == 1 and out[50, 50] == 1


def test_far_bystander_is_dropped_unless_asked_to_keep():
    a = person(200, 200)  # 2800 px
    a[160:190, 5:20] = 1.0  # 450 px, 16 % of the subject, far from it
    assert refine.drop_far_blobs(a)[170, 10] == 0
    assert refine.drop_far_blobs(a, min_rel=0.1)[170, 10] == 1
    a[95:125, 75:90] = 1.0  # the same size right beside the subject: kept
    assert refine.clean_up(a)[110, 80] == 1


def test_enclosed_small_hole_is_filled_border_gap_and_big_hole_kept():
    a = person()
    a[50:53, 45:48] = 0.1  # a small translucent patch in the body
    a[60:90, 40:60] = 0.0  # a gap reaching the bottom of the body...
    a[60:100, 40:60] = 0.0  # ...and the image border: not enclosed
    out = refine.fill_small_holes(a)
    assert out[51, 46] == 1
    assert out[95, 50] == 0 and out[70, 50] == 0
    b = person()
    b[30:80, 40:60] = 0.0  # a big enclosed hole (gap between arm and body)
    assert refine.fill_small_holes(b)[50, 50] == 0


def test_settle_far_pixels_keeps_the_soft_edge():
    a = person()
    a[50, 50] = 0.7  # translucent deep inside
    a[20:90, 70:73] = 0.3  # soft edge next to the body
    a[5, 5] = 0.2  # haze far outside
    out = refine.settle_far_pixels(a, inner=3, outer=10)
    assert out[50, 50] == 1 and out[5, 5] == 0
    np.testing.assert_allclose(out[20:90, 70:73], 0.3)


def _grey(a: np.ndarray) -> np.ndarray:
    return (a > 0.15) & (a < 0.85)


def test_a_grey_smear_beside_the_person_is_decided_as_a_whole():
    """A held object the model is unsure of: a disc of grey that wavers between 0.1 and 0.6
    (as the model's smear over the astronaut's helmet) against the body. It becomes
    background as a whole, not grey and not fragments."""
    a = np.zeros((200, 200), np.float32)
    a[20:200, 20:100] = 1.0  # the person
    yy, xx = np.mgrid[:200, :200]
    disc = np.hypot(yy - 140, xx - 140) < 45
    a[disc] = (0.35 + 0.25 * np.sin(xx / 5) * np.cos(yy / 7))[disc]
    out = refine.clean_up(a)
    assert _grey(a[disc]).mean() > 0.5
    left = _grey(out) & disc
    assert left.mean() < 0.1 * disc.mean()
    assert np.flatnonzero(left.any(axis=0)).max() < 100 + 16  # only where it meets the body
    assert out[disc].mean() < 0.1  # background, as its mean said
    assert out[40:190, 30:90].min() == 1.0  # the person is untouched


def test_a_mostly_opaque_smear_becomes_person():
    a = np.zeros((120, 120), np.float32)
    a[10:110, 10:60] = 1.0
    a[30:90, 60:110] = np.tile([0.8, 0.6, 0.4, 0.7], 750).reshape(60, 50)  # 75 % >= 0.5
    out = refine.settle_undecided(a)
    assert out[40:80, 75:100].min() == 1.0


def test_hair_like_ramps_at_the_edge_stay_soft():
    """Soft pixels between a sure person and a sure background a few px away (hair
    strands, a blurred outline) are an edge: settle_undecided leaves them as they are."""
    a = np.zeros((100, 160), np.float32)
    a[:, :60] = 1.0
    ramp = np.linspace(1, 0, 12, dtype=np.float32)  # 12 px from opaque to clear
    a[:, 60:72] = ramp
    a[::3, 60:72] = np.minimum(ramp * 1.6, 1)  # strands
    out = refine.settle_undecided(a)
    assert _grey(a).sum() > 500
    np.testing.assert_array_equal(out, a)
    # clean-up makes opaque only what lies deeper than 4 px inside the person (>= 0.5)
    np.testing.assert_array_equal(refine.clean_up(a)[:, 63:72], a[:, 63:72])


def test_settle_undecided_without_any_sure_pixel_decides_by_majority():
    a = np.full((64, 64), 0.4, np.float32)
    a[:, 40:] = 0.6
    out = refine.settle_undecided(a)
    assert not _grey(out).any()
    assert out[:, :30].max() == 0 and out[:, 50:].min() == 1


def test_clean_up_leaves_empty_alpha_alone():
    a = np.zeros((30, 40), np.float32)
    a[3, 3] = 0.2
    np.testing.assert_array_equal(refine.clean_up(a), a)


def test_zoom_box_only_for_small_subjects():
    a = np.zeros((400, 400), np.float32)
    a[200:260, 100:120] = 1.0
    top, bottom, left, right = refine.zoom_box(a)
    assert top < 200 and bottom > 260 and left < 100 and right > 120
    assert refine.zoom_box(person()) is None  # fills most of the frame
    assert refine.zoom_box(np.zeros((10, 10), np.float32)) is None


def test_resize_round_trip_keeps_range_and_shape():
    rgb = np.zeros((30, 20, 3), np.uint8)
    assert refine.resize_rgb(rgb, 60).shape == (60, 40, 3)
    a = person(30, 20)
    up = refine.resize_alpha(a, (90, 60))
    back = refine.resize_alpha(up, (30, 20))
    assert back.shape == (30, 20) and 0 <= back.min() and back.max() <= 1


# ---- the "no person" rule, on photos without people -------------------------------------


@pytest.fixture(scope="module")
def remover():
    from humancut.errors import ModelFileError
    from humancut.remover import Remover
    from humancut.settings import Settings

    r = Remover(Settings(threads=1))
    try:
        r.model  # noqa: B018
    except ModelFileError:
        pytest.skip("model not fetched")
    return r


@pytest.mark.parametrize("name", ["coffee", "chelsea", "rocket", "coins", "hubble_deep_field"])
def test_no_person_is_found_in_photos_without_people(remover, name):
    data = pytest.importorskip("skimage.data")
    from humancut.errors import HumancutError

    img = getattr(data, name)()
    rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]
    with pytest.raises(HumancutError) as info:
        remover.matte(np.ascontiguousarray(rgb))
    assert info.value.code == "no_person"


def test_subject_extent_is_the_largest_blob_share_of_the_long_side():
    a = np.zeros((100, 200), np.float32)
    assert refine.subject_extent(a) == 0.0
    a[10:60, 20:30] = 1.0  # 50 px tall
    a[70:80, 100:180] = 0.4  # soft, not person
    a[90:95, 150:155] = 1.0  # a speck
    assert refine.subject_extent(a) == pytest.approx(50 / 200)
    assert refine.subject_extent(np.ones((30, 40), np.float32)) == 1.0
