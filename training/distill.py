"""Knowledge distillation: a small student learns from a trained teacher's probabilities.

The teacher (any model file: the photos ensemble, say) reads every training image once, with its
mirror image, before training starts; its averaged probabilities are kept in the run folder and
reused on resume. Each training target is then a blend of the true label and the teacher's
probabilities, softened by a temperature, so the student learns which wrong classes are
nearly right ("this sad face is half neutral"), which a one-hot label cannot tell it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from fer.atomic import staged_path
from fer.classifier import EmotionClassifier
from fer.model_file import ModelFileError

TARGETS_FILE = "teacher_targets.npy"


def teacher_probabilities(teacher_path: str, images: np.ndarray, class_names: list[str], run_dir: Path) -> np.ndarray:
    """The teacher's flip-averaged probabilities for `images` (uint8, the student's input format),
    computed once and cached in `run_dir` under a key of the teacher file and the images."""
    if not Path(teacher_path).is_file():
        raise ModelFileError(f"teacher model not found: {teacher_path}")
    key = hashlib.sha256(Path(teacher_path).read_bytes() + images.tobytes()).hexdigest()[:16]
    cache = run_dir / f"{Path(TARGETS_FILE).stem}-{key}.npy"
    if cache.exists():
        return np.load(cache)
    teacher = EmotionClassifier(teacher_path)
    if list(teacher.class_names) != list(class_names):
        raise ModelFileError(f"the teacher {teacher_path} has classes {list(teacher.class_names)}, the data "
                             f"{list(class_names)}")
    if (tuple(teacher.info.image_size), teacher.info.channels) != (images.shape[1:3], images.shape[3]):
        raise ModelFileError(f"the teacher {teacher_path} reads {teacher.info.image_size} x {teacher.info.channels} "
                             f"images; the student is trained on {images.shape[1:3]} x {images.shape[3]}")
    print(f"teacher {Path(teacher_path).name}: reading {len(images)} training images once", flush=True)
    probabilities = np.concatenate([teacher.predict_prepared(images[start : start + 4096], "flip")
                                    for start in range(0, len(images), 4096)]).astype(np.float32)
    run_dir.mkdir(parents=True, exist_ok=True)
    with staged_path(cache) as staged:  # a kill mid-write leaves no half file for the resume to trust
        np.save(staged, probabilities)
    return probabilities


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a higher temperature (flatter): p ** (1 / T), renormalised; T = 1 leaves them."""
    powered = np.power(np.clip(probabilities, 1e-8, 1.0), 1.0 / temperature)
    return (powered / powered.sum(axis=1, keepdims=True)).astype(np.float32)


def blended_targets(targets: np.ndarray, teacher: np.ndarray, weight: float, temperature: float) -> np.ndarray:
    """(1 - weight) x the targets without a teacher (one-hot labels or vote distributions) + weight x the
    teacher's softened probabilities, per image."""
    return ((1.0 - weight) * targets + weight * soften(teacher, temperature)).astype(np.float32)
