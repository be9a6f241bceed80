"""Knowledge distillation: a small student learns from a trained teacher's probabilities.

The teacher (any model file: the photos ensemble, say) reads every training image once, with its
mirror image, before training starts; its averaged probabilities are kept in the run folder and
reused on resume. Each training target is then a blend of the true label and the teacher's
probabilities, softened by a temperature, so the student learns which wrong classes are
nearly right ("this sad face is half neutral"), which a one-hot label cannot tell it.

The kept probabilities (`teacher_targets-KEY.npz` in the run folder) can be a run's `--teacher` in turn: a
machine that cannot run the teacher's file (a lent GPU has no LiteRT, and no room to carry a large one)
still distils from it, as long as its training images are the ones they were computed on.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from fer.atomic import staged_path
from fer.classifier import EmotionClassifier
from fer.model_file import ModelFileError

TARGETS_FILE = "teacher_targets.npz"
SAVED_TARGETS_SUFFIX = Path(TARGETS_FILE).suffix  # a --teacher with it is saved probabilities, not a model file


def image_means(images: np.ndarray) -> np.ndarray:
    """Each training image's mean grey level: what ties saved probabilities to their faces, in their order.
    Means, not a hash of the pixels, since another machine's JPEG decoder may differ by a grey level here
    and there; a face out of place moves its mean by far more."""
    return images.reshape(len(images), -1).mean(axis=1, dtype=np.float64).astype(np.float32)


def same_images(saved_means: np.ndarray, saved_shape: np.ndarray, images: np.ndarray) -> bool:
    return (tuple(int(n) for n in saved_shape) == images.shape
            and bool(np.abs(saved_means - image_means(images)).max(initial=0.0) <= 1.0))


def teacher_probabilities(teacher_path: str, images: np.ndarray, class_names: list[str], run_dir: Path) -> np.ndarray:
    """The teacher's flip-averaged probabilities for `images` (uint8, the student's input format),
    computed once and cached in `run_dir` under a key of the teacher file and the images. `teacher_path`
    may also be such a cache, from another run or machine."""
    if Path(teacher_path).suffix == SAVED_TARGETS_SUFFIX:
        return saved_probabilities(Path(teacher_path), images, class_names)
    key = hashlib.sha256(Path(teacher_path).read_bytes() + images.tobytes()).hexdigest()[:16]
    cache = run_dir / f"{Path(TARGETS_FILE).stem}-{key}{SAVED_TARGETS_SUFFIX}"
    if cache.exists():
        return saved_probabilities(cache, images, class_names)
    teacher = load_teacher(teacher_path, class_names, images.shape[1:])
    print(f"teacher {Path(teacher_path).name}: reading {len(images)} training images once", flush=True)
    probabilities = np.concatenate([teacher.predict_prepared(images[start : start + 4096], "flip")
                                    for start in range(0, len(images), 4096)]).astype(np.float32)
    save_probabilities(cache, probabilities, images, class_names, Path(teacher_path).name)
    return probabilities


def load_teacher(teacher_path: str, class_names: list[str], image_shape: tuple[int, ...],
                 threads: int | None = None) -> EmotionClassifier:
    """The teacher's model file, checked to read the student's classes and (height, width, channels) images."""
    if not Path(teacher_path).is_file():
        raise ModelFileError(f"teacher model not found: {teacher_path}")
    teacher = EmotionClassifier(teacher_path, threads)
    if list(teacher.class_names) != list(class_names):
        raise ModelFileError(f"the teacher {teacher_path} has classes {list(teacher.class_names)}, the data "
                             f"{list(class_names)}")
    if (tuple(teacher.info.image_size), teacher.info.channels) != (tuple(image_shape[:2]), image_shape[2]):
        raise ModelFileError(f"the teacher {teacher_path} reads {teacher.info.image_size} x {teacher.info.channels} "
                             f"images; the student is trained on {tuple(image_shape[:2])} x {image_shape[2]}")
    return teacher


class BatchTeacher:
    """A teacher that reads each training batch as the student sees it: shifted, erased, made faulty.

    The cached probabilities above are the teacher's reading of each clean face; the student then learns
    "this face is 60% sad" also from a blurred or half-hidden copy that the teacher never saw. Reading the
    batch itself (consistent teaching, Beyer et al. 2022, "Knowledge distillation: A good teacher is patient
    and consistent") makes every target the teacher's view of exactly that input. The batches are made by
    several threads; each gets its own one-thread copy of the teacher, so they do not queue on one lock."""

    def __init__(self, teacher_path: str, class_names: list[str], image_shape: tuple[int, ...], weight: float,
                 temperature: float) -> None:
        if Path(teacher_path).suffix == SAVED_TARGETS_SUFFIX:
            raise ModelFileError(f"a consistent teacher reads every batch, so it must be a model file, not the saved "
                                 f"probabilities {teacher_path}")
        self.path, self.class_names, self.image_shape = teacher_path, list(class_names), tuple(image_shape)
        self.weight, self.temperature = weight, temperature
        self._own = threading.local()
        self._own.teacher = load_teacher(teacher_path, self.class_names, self.image_shape, threads=1)  # checks now

    def blend(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """`targets` blended with the teacher's probabilities for `images` (the float batch the student reads)."""
        teacher = getattr(self._own, "teacher", None)
        if teacher is None:
            teacher = self._own.teacher = load_teacher(self.path, self.class_names, self.image_shape, threads=1)
        return blended_targets(targets, teacher.predict_prepared(images), self.weight, self.temperature)


def save_probabilities(path: Path, probabilities: np.ndarray, images: np.ndarray, class_names: list[str],
                       teacher: str) -> None:
    """Keep a teacher's probabilities with what checks them against a run's images and classes."""
    with staged_path(path) as staged, staged.open("wb") as file:  # a kill mid-write leaves no half file
        np.savez(file, probabilities=probabilities, image_means=image_means(images), image_shape=np.array(images.shape),
                 class_names=np.array(class_names), teacher=teacher)


def saved_probabilities(path: Path, images: np.ndarray, class_names: list[str]) -> np.ndarray:
    """Probabilities a run saved, checked to belong to these images and classes: a row out of place would
    teach every face another face's reading."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            probabilities, means, shape = saved["probabilities"], saved["image_means"], saved["image_shape"]
            saved_classes = [str(name) for name in saved["class_names"]]
    except (OSError, KeyError, ValueError) as err:
        raise ModelFileError(f"{path} is not a teacher's saved probabilities ({type(err).__name__}: {err})") from err
    if saved_classes != list(class_names):
        raise ModelFileError(f"the teacher's probabilities in {path} are for the classes {saved_classes}, the data "
                             f"has {list(class_names)}")
    if not same_images(means, shape, images) or probabilities.shape != (len(images), len(class_names)):
        raise ModelFileError(f"the teacher's probabilities in {path} were computed on other training images "
                             "(another dataset, image size, colour or split): run the teacher's model file instead")
    return probabilities.astype(np.float32)


def teacher_name(teacher_path: str) -> str:
    """The teacher's file name, for the report: the model file itself, or the one whose probabilities were saved."""
    if Path(teacher_path).suffix == SAVED_TARGETS_SUFFIX:
        try:
            with np.load(teacher_path, allow_pickle=False) as saved:
                return str(saved["teacher"])
        except (OSError, KeyError, ValueError):
            pass
    return Path(teacher_path).name


def soften(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities at a higher temperature (flatter): p ** (1 / T), renormalised; T = 1 leaves them."""
    powered = np.power(np.clip(probabilities, 1e-8, 1.0), 1.0 / temperature)
    return (powered / powered.sum(axis=1, keepdims=True)).astype(np.float32)


def blended_targets(targets: np.ndarray, teacher: np.ndarray, weight: float, temperature: float) -> np.ndarray:
    """(1 - weight) x the targets without a teacher (one-hot labels or vote distributions) + weight x the
    teacher's softened probabilities, per image."""
    return ((1.0 - weight) * targets + weight * soften(teacher, temperature)).astype(np.float32)
