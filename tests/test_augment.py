"""Augmentation does what each option says, and a batch depends on its generator's seed alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from training.augment import DEGRADATIONS, AugmentConfig, augment_batch, cutmix, degrade_face, mixup, weaken

NONE = AugmentConfig(flip=False, rotate_degrees=0, shift=0, zoom=0, erase_probability=0)


def batch(count: int = 64) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (count, 48, 48, 1), dtype=np.uint8)


def test_no_option_leaves_images_alone():
    images = batch()
    out = augment_batch(images, np.random.default_rng(0), NONE)
    assert out.dtype == np.uint8 and out.shape == images.shape
    np.testing.assert_array_equal(out, images)


def test_flip_mirrors_about_half_of_the_images():
    images = batch(400)
    out = augment_batch(images, np.random.default_rng(0), AugmentConfig(**{**NONE.__dict__, "flip": True}))
    mirrored = np.array([np.array_equal(o, i[:, ::-1]) for o, i in zip(out, images)])
    same = np.array([np.array_equal(o, i) for o, i in zip(out, images)])
    assert (mirrored | same).all() and 150 < mirrored.sum() < 250


def test_erasing_changes_one_rectangle_of_each_erased_image():
    images = batch(200)
    config = AugmentConfig(**{**NONE.__dict__, "erase_probability": 1.0, "erase_max_area": 0.2})
    out = augment_batch(images, np.random.default_rng(0), config)
    for o, i in zip(out, images):
        rows, cols = np.nonzero((o != i)[:, :, 0])
        assert len(rows) > 0
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert box <= 0.2 * 48 * 48 + 48 * 2  # inside one patch of at most the largest area (rounding)


def test_same_seed_same_batch_other_seed_other_batch():
    images, config = batch(), AugmentConfig()
    a = augment_batch(images, np.random.default_rng([7, 3, 1]), config)
    b = augment_batch(images, np.random.default_rng([7, 3, 1]), config)
    c = augment_batch(images, np.random.default_rng([7, 3, 2]), config)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def own_and_partner(targets: np.ndarray, i: int) -> tuple[float, int]:
    """With one-hot targets of a class per face: the share face i keeps, and its partner (i when none)."""
    others = [j for j in np.flatnonzero(targets[i]) if j != i]
    return float(targets[i, i]), (others[0] if others else i)


def test_mixup_blends_each_face_and_its_target_by_the_same_share():
    images = batch()
    x, y = mixup(images, np.eye(len(images), dtype=np.float32), np.random.default_rng(0), alpha=0.4)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    blended = 0
    for i in range(len(images)):
        share, partner = own_and_partner(y, i)
        expected = share * images[i].astype(np.float32) + (1 - share) * images[partner]
        np.testing.assert_allclose(x[i], expected, atol=1e-3)
        blended += partner != i and 0.05 < share < 0.95
    assert blended > 10


def test_cutmix_pastes_one_box_of_the_partner_and_its_target_share_is_the_box_area():
    images = batch()
    x, y = cutmix(images, np.eye(len(images), dtype=np.float32), np.random.default_rng(0), alpha=1.0)
    assert x.dtype == np.float32 and x.shape == images.shape
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    pasted_any = 0
    for i in range(len(images)):
        share, partner = own_and_partner(y, i)
        changed = np.nonzero((x[i] != images[i])[:, :, 0])
        if partner == i or len(changed[0]) == 0:
            continue
        pasted_any += 1
        top, bottom = changed[0].min(), changed[0].max() + 1
        left, right = changed[1].min(), changed[1].max() + 1
        np.testing.assert_array_equal(x[i, top:bottom, left:right], images[partner, top:bottom, left:right])
        outside = np.ones((48, 48), bool)
        outside[top:bottom, left:right] = False
        np.testing.assert_array_equal(x[i][outside], images[i][outside])
        # random images differ almost everywhere, so the changed pixels span the pasted box
        assert abs((1 - share) - (bottom - top) * (right - left) / 48**2) < 2 * 48 / 48**2
    assert pasted_any > 40


def test_weaken_blends_expressive_faces_towards_a_neutral_one_and_leaves_neutral_faces_alone():
    images = batch()
    classes = np.arange(len(images)) % 4  # class 3 is neutral: 16 of the 64 faces
    x, y = weaken(images, np.eye(4, dtype=np.float32)[classes], np.random.default_rng(0), probability=1.0, neutral=3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    neutral_faces = np.flatnonzero(classes == 3)
    np.testing.assert_array_equal(x[neutral_faces], images[neutral_faces])
    np.testing.assert_array_equal(y[neutral_faces, 3], 1.0)
    for i in np.flatnonzero(classes != 3):
        share = y[i, classes[i]]
        assert 0.5 <= share <= 1.0 and abs(y[i, 3] - (1 - share)) < 1e-6  # the rest of the target is neutral's
        matches = [j for j in neutral_faces
                   if np.allclose(x[i], share * images[i].astype(np.float32) + (1 - share) * images[j], atol=1e-3)]
        assert matches, f"face {i} is not a blend of itself and a neutral face"
    assert (y[classes != 3].max(axis=1) < 0.95).sum() > 20  # most of them visibly weakened


def test_weaken_blends_only_the_chosen_share_and_needs_a_neutral_face_in_the_batch():
    images = batch()
    classes = np.arange(len(images)) % 4
    targets = np.eye(4, dtype=np.float32)[classes]
    x, y = weaken(images, targets, np.random.default_rng(0), probability=0.0, neutral=3)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, targets)
    _, y = weaken(images, targets, np.random.default_rng(0), probability=0.5, neutral=3)
    assert 12 < (y[:, 3] > 0).sum() - 16 < 36  # about half of the 48 expressive faces
    no_neutral = np.eye(4, dtype=np.float32)[classes % 3]
    x, y = weaken(images, no_neutral, np.random.default_rng(0), probability=1.0, neutral=3)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, no_neutral)


@pytest.fixture(scope="module")
def face(face_photo) -> np.ndarray:
    """The astronaut's face as FER2013 frames one: 48x48 grayscale, (48, 48, 1) uint8."""
    gray = cv2.cvtColor(face_photo[30:230, 150:350], cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA)[:, :, None]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b).mean())


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_each_fault_keeps_the_face_s_shape_and_type_and_grows_with_its_severity(face, kind):
    grain = np.random.default_rng(0).standard_normal(face.shape, dtype=np.float32)
    mild, worst = (degrade_face(face, kind, severity, grain) for severity in (0.1, 1.0))
    for out in (mild, worst):
        assert out.dtype == np.uint8 and out.shape == face.shape
    assert distance(worst, face) > distance(mild, face) > 0
    assert distance(worst, face) > 2  # grey levels: a fault the network can see


def test_each_fault_does_what_its_name_says(face):
    grain = np.random.default_rng(0).standard_normal(face.shape, dtype=np.float32)
    out = {kind: degrade_face(face, kind, 1.0, grain).astype(np.float32) for kind in DEGRADATIONS}
    assert out["dark"].mean() < face.mean() - 20 and out["bright"].mean() > face.mean() + 20
    assert out["flat"].std() < 0.3 * face.std()
    detail = lambda image: np.abs(np.diff(image.astype(np.float32), axis=1)).mean()  # noqa: E731
    assert detail(out["blur"]) < 0.6 * detail(face) and detail(out["small"]) < 0.6 * detail(face)
    assert detail(out["noise"]) > 2 * detail(face)


def test_faults_work_on_colour_faces_and_refuse_an_unknown_kind(face):
    colour = np.repeat(face, 3, axis=2)
    grain = np.zeros(colour.shape, np.float32)
    for kind in DEGRADATIONS:
        assert degrade_face(colour, kind, 0.5, grain).shape == colour.shape
    with pytest.raises(ValueError, match="kind must be one of"):
        degrade_face(face, "fog", 0.5, grain)


def test_degrading_changes_the_chosen_share_of_a_batch_and_depends_on_the_seed_alone():
    images = batch(400)
    config = AugmentConfig(**{**NONE.__dict__, "degrade_probability": 0.5})
    out = augment_batch(images, np.random.default_rng([3, 1]), config)
    changed = np.array([not np.array_equal(o, i) for o, i in zip(out, images)])
    assert 150 < changed.sum() < 250
    np.testing.assert_array_equal(out, augment_batch(images, np.random.default_rng([3, 1]), config))
