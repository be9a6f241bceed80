"""Augmentation does what each option says, and a batch depends on its generator's seed alone."""

from __future__ import annotations

import numpy as np

from training.augment import AugmentConfig, augment_batch

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
