"""The one face-crop preprocessing used by both training and inference.

Keeping a single function here means the app can never feed the model something different from
what it was trained on. Pixel scaling to [0, 1] lives inside the model (a Rescaling layer), so this
only converts colour and size and keeps uint8.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def prepare_face(rgb_crop: np.ndarray, size: tuple[int, int], channels: int) -> np.ndarray:
    """Convert one RGB uint8 face crop to the model's (height, width, channels) uint8 input."""
    height, width = size
    crop = rgb_crop
    if crop.ndim == 3 and crop.shape[2] == 1:
        crop = crop[:, :, 0]
    if channels == 1:
        gray = crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        resized = _resize(gray, width, height)
        return resized[:, :, None]
    rgb = cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB) if crop.ndim == 2 else crop
    return _resize(rgb, width, height)


def prepare_faces(rgb_crops: Sequence[np.ndarray], size: tuple[int, int], channels: int) -> np.ndarray:
    """Batch version of `prepare_face`: an (N, height, width, channels) uint8 array."""
    if len(rgb_crops) == 0:
        return np.zeros((0, size[0], size[1], channels), dtype=np.uint8)
    return np.stack([prepare_face(crop, size, channels) for crop in rgb_crops])


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    if image.shape[1] == width and image.shape[0] == height:
        return np.ascontiguousarray(image)
    shrinking = image.shape[1] > width or image.shape[0] > height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


TTA_MODES = ("none", "flip", "tencrop")


def tta_views(images: np.ndarray, mode: str) -> list[np.ndarray]:
    """The views of a uint8 (N, H, W, C) batch that test-time augmentation averages over."""
    if mode == "none":
        return [images]
    if mode == "flip":
        return [images, images[:, :, ::-1]]
    if mode != "tencrop":
        raise ValueError(f"tta must be one of {TTA_MODES}, not {mode!r}")
    height, width = images.shape[1:3]
    ch, cw = int(round(height * 0.9)), int(round(width * 0.9))
    offsets = [(0, 0), (0, width - cw), (height - ch, 0), (height - ch, width - cw),
               ((height - ch) // 2, (width - cw) // 2)]
    views = []
    for top, left in offsets:
        crops = images[:, top : top + ch, left : left + cw]
        resized = np.stack([cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR) for c in crops])
        resized = resized.reshape(images.shape)
        views.extend([resized, resized[:, :, ::-1]])
    return views
