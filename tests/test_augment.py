"""Augmentation does what each option says, and a batch depends on its generator's seed alone."""

from __future__ import annotations

import numpy as np

from training.augment import AugmentConfig, augment_batch, cutmix, mixup

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
