"""Face-friendly augmentation in NumPy/OpenCV, seeded per (seed, epoch, batch).

Done on the host rather than as Keras layers so that it is identical under every backend and an
interrupted run resumes with exactly the batches it would have seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True  # faces are roughly symmetric; expressions are too
    rotate_degrees: float = 10.0
    shift: float = 0.1  # fraction of the image side
    zoom: float = 0.1  # scale drawn from [1 - zoom, 1 + zoom]
    erase_probability: float = 0.5  # random erasing: hides a patch, as hands or glasses do
    erase_max_area: float = 0.2


def augment_batch(images: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Return an augmented copy of an (N, H, W, C) uint8 batch."""
    out = np.empty_like(images)
    height, width = images.shape[1:3]
    center = (width / 2.0, height / 2.0)
    for i, image in enumerate(images):
        angle = rng.uniform(-config.rotate_degrees, config.rotate_degrees)
        scale = rng.uniform(1.0 - config.zoom, 1.0 + config.zoom)
        matrix = cv2.getRotationMatrix2D(center, angle, scale)
        matrix[0, 2] += rng.uniform(-config.shift, config.shift) * width
        matrix[1, 2] += rng.uniform(-config.shift, config.shift) * height
        warped = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101)
        warped = warped.reshape(image.shape)
        if config.flip and rng.random() < 0.5:
            warped = warped[:, ::-1]
        if rng.random() < config.erase_probability:
            warped = _erase(warped, rng, config.erase_max_area)
        out[i] = warped
    return out


def _erase(image: np.ndarray, rng: np.random.Generator, max_area: float) -> np.ndarray:
    height, width = image.shape[:2]
    area = rng.uniform(0.02, max_area) * height * width
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
    h = int(min(height, round(np.sqrt(area * aspect))))
    w = int(min(width, round(np.sqrt(area / aspect))))
    top = int(rng.integers(0, height - h + 1))
    left = int(rng.integers(0, width - w + 1))
    image = image.copy()
    image[top : top + h, left : left + w] = rng.integers(0, 256, size=(h, w, image.shape[2]), dtype=np.uint8)
    return image


def mixup(
    images: np.ndarray, targets: np.ndarray, rng: np.random.Generator, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Blend each example with a shuffled partner (Zhang et al. 2018); targets are one-hot/soft."""
    lam = rng.beta(alpha, alpha, size=(len(images), 1)).astype(np.float32)
    partner = rng.permutation(len(images))
    x = images.astype(np.float32)
    mixed = lam[:, :, None, None] * x + (1.0 - lam[:, :, None, None]) * x[partner]
    return mixed, lam * targets + (1.0 - lam) * targets[partner]
