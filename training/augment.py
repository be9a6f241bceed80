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
    degrade_probability: float = 0.0  # share of faces given one fault of photos and cameras (`degrade_face`)


def augment_batch(images: np.ndarray, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """Return an augmented copy of an (N, H, W, C) uint8 batch. Every random number of the batch is
    drawn at once, in a fixed order, so the batch depends on `rng`'s seed alone; the per-image work
    left is OpenCV's warp, which runs without the GIL (batches can be prepared in threads)."""
    count = len(images)
    height, width = images.shape[1:3]
    angles = rng.uniform(-config.rotate_degrees, config.rotate_degrees, count)
    scales = rng.uniform(1.0 - config.zoom, 1.0 + config.zoom, count)
    shifts = rng.uniform(-config.shift, config.shift, (count, 2)) * (width, height)
    flips = rng.random(count) < 0.5 if config.flip else np.zeros(count, bool)
    erases = rng.random(count) < config.erase_probability
    areas = rng.uniform(0.02, config.erase_max_area, count) * height * width
    aspects = np.exp(rng.uniform(np.log(0.3), np.log(3.3), count))
    corners = rng.random((count, 2))
    noise = rng.integers(0, 256, images.shape, dtype=np.uint8)  # what an erased patch is filled with
    out = np.empty_like(images)
    center = (width / 2.0, height / 2.0)
    for i, image in enumerate(images):
        matrix = cv2.getRotationMatrix2D(center, float(angles[i]), float(scales[i]))
        matrix[:, 2] += shifts[i]
        out[i] = cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT_101).reshape(image.shape)
    out[flips] = out[flips, :, ::-1]
    patch_h = np.minimum(height, np.round(np.sqrt(areas * aspects))).astype(int)
    patch_w = np.minimum(width, np.round(np.sqrt(areas / aspects))).astype(int)
    tops = (corners[:, 0] * (height - patch_h + 1)).astype(int)
    lefts = (corners[:, 1] * (width - patch_w + 1)).astype(int)
    for i in np.flatnonzero(erases):  # random erasing: hides a patch, as hands or glasses do
        rows, cols = slice(tops[i], tops[i] + patch_h[i]), slice(lefts[i], lefts[i] + patch_w[i])
        out[i, rows, cols] = noise[i, rows, cols]
    if config.degrade_probability > 0:  # drawn only then, so that runs without it keep their batches
        degraded = rng.random(count) < config.degrade_probability
        kinds = rng.integers(0, len(DEGRADATIONS), count)
        severities = rng.random(count)
        grain = rng.standard_normal(images.shape, dtype=np.float32)
        for i in np.flatnonzero(degraded):
            out[i] = degrade_face(out[i], DEGRADATIONS[kinds[i]], float(severities[i]), grain[i])
    return out


# The faults of real photos and cameras that FER2013's faces seldom show; benchmarks/robustness.py measures
# each. Severity 0 is mild, 1 is about the worst a face should still be read through.
DEGRADATIONS = ("small", "blur", "jpeg", "dark", "bright", "flat", "noise")


def degrade_face(image: np.ndarray, kind: str, severity: float, grain: np.ndarray) -> np.ndarray:
    """One (H, W, C) uint8 face with one fault of `kind` at `severity` in [0, 1]; `grain` is standard normal
    noise of the image's shape (drawn by the caller, so the batch depends on its generator alone)."""
    side = image.shape[0]
    if kind == "small":  # a face 41 down to 12 px wide at 48 px, scaled up as the app scales any small crop
        return shrink(image, max(4, round(side * (0.85 - 0.6 * severity))))
    if kind == "blur":
        return blur(image, (0.5 + 1.5 * severity) * side / 48)
    if kind == "jpeg":
        return jpeg(image, round(70 - 60 * severity))
    if kind == "dark":
        return gamma(image, 1.0 + severity)
    if kind == "bright":
        return gamma(image, 1.0 / (1.0 + severity))
    if kind == "flat":
        return contrast(image, 1.0 - 0.75 * severity)
    if kind == "noise":
        return add_noise(image, grain, 3.0 + 22.0 * severity)
    raise ValueError(f"kind must be one of {DEGRADATIONS}, not {kind!r}")


def shrink(image: np.ndarray, side: int) -> np.ndarray:
    """The face as a photo `side` px wide shows it: scaled down, then up again as the app scales a small crop."""
    height, width = image.shape[:2]
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(image.shape)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Out of focus or moving: a Gaussian blur of `sigma` pixels."""
    return cv2.GaussianBlur(image, (0, 0), sigma).reshape(image.shape)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Saved or streamed with JPEG compression at `quality` (1-100)."""
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    flags = cv2.IMREAD_GRAYSCALE if image.ndim == 2 or image.shape[2] == 1 else cv2.IMREAD_COLOR
    return cv2.imdecode(data, flags).reshape(image.shape)


def gamma(image: np.ndarray, exponent: float) -> np.ndarray:
    """Under-exposed (`exponent` > 1: darker) or over-exposed (< 1: brighter)."""
    table = np.clip(255.0 * (np.arange(256) / 255.0) ** exponent + 0.5, 0, 255).astype(np.uint8)
    return table[image]


def contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Haze or backlight: the pixels pulled towards the face's mean by `factor` (1: unchanged)."""
    mean = float(image.mean())
    return np.clip(mean + factor * (image.astype(np.float32) - mean) + 0.5, 0, 255).astype(np.uint8)


def add_noise(image: np.ndarray, grain: np.ndarray, sigma: float) -> np.ndarray:
    """Sensor noise in dim light: `grain` (standard normal, the image's shape) at `sigma` grey levels."""
    return np.clip(image + sigma * grain + 0.5, 0, 255).astype(np.uint8)


def mixup(
    images: np.ndarray, targets: np.ndarray, rng: np.random.Generator, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Blend each example with a shuffled partner (Zhang et al. 2018); targets are one-hot/soft."""
    lam = rng.beta(alpha, alpha, size=(len(images), 1)).astype(np.float32)
    partner = rng.permutation(len(images))
    x = images.astype(np.float32)
    mixed = lam[:, :, None, None] * x + (1.0 - lam[:, :, None, None]) * x[partner]
    return mixed, lam * targets + (1.0 - lam) * targets[partner]


def cutmix(
    images: np.ndarray, targets: np.ndarray, rng: np.random.Generator, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Paste a box of a shuffled partner into each example, at the same place (Yun et al. 2019); targets
    mix by the share of the face each keeps. The faces are aligned, so a box swaps the same part of two
    faces (a mouth for a mouth): the network has to read every part of a face, not only the strongest."""
    count, height, width = images.shape[:3]
    lam = rng.beta(alpha, alpha, count)
    partner = rng.permutation(count)
    cut = np.sqrt(1.0 - lam)
    box_h, box_w = np.round(cut * height).astype(int), np.round(cut * width).astype(int)
    center_y, center_x = rng.integers(0, height, count), rng.integers(0, width, count)
    tops, bottoms = np.clip(center_y - box_h // 2, 0, height), np.clip(center_y + (box_h + 1) // 2, 0, height)
    lefts, rights = np.clip(center_x - box_w // 2, 0, width), np.clip(center_x + (box_w + 1) // 2, 0, width)
    mixed = images.astype(np.float32)  # a copy: the partners are read from `images`, untouched
    for i in range(count):
        rows, cols = slice(tops[i], bottoms[i]), slice(lefts[i], rights[i])
        mixed[i, rows, cols] = images[partner[i], rows, cols]
    pasted = ((bottoms - tops) * (rights - lefts) / (height * width)).astype(np.float32)[:, None]
    return mixed, (1.0 - pasted) * targets + pasted * targets[partner]


def weaken(
    images: np.ndarray, targets: np.ndarray, rng: np.random.Generator, probability: float, neutral: int
) -> tuple[np.ndarray, np.ndarray]:
    """Blend a share of the expressive faces towards a neutral face of the batch: each chosen face keeps
    between half and all of itself, and its target moves to neutral's by the same share. FER2013 has no
    neutral face of the same person, so a blended face is the nearest thing to a weaker expression it
    offers; the faces between an expression and neutral are the ones other sets show read as neutral.
    Mixup blends any two faces; this blends only across the line between the expressions and neutral."""
    count = len(images)
    chosen = rng.random(count) < probability
    keep = rng.uniform(0.5, 1.0, count).astype(np.float32)
    picks = rng.random(count)  # every draw is made whatever the batch holds, so the stream stays the same
    classes = targets.argmax(axis=1)
    neutral_faces = np.flatnonzero(classes == neutral)
    chosen &= classes != neutral
    mixed, mixed_targets = images.astype(np.float32), targets.astype(np.float32)  # copies
    if len(neutral_faces) == 0 or not chosen.any():
        return mixed, mixed_targets
    partner = neutral_faces[(picks * len(neutral_faces)).astype(int)]
    share = np.where(chosen, keep, 1.0).astype(np.float32)[:, None]
    mixed = share[:, :, None, None] * mixed + (1.0 - share[:, :, None, None]) * mixed[partner]
    return mixed, share * mixed_targets + (1.0 - share) * mixed_targets[partner]
