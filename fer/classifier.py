"""The emotion CNN at inference time: load once, classify face crops fast, from any thread.

A model is a `.tflite` file (run by LiteRT: what the app, the CLI and the library use by default) or a
`.keras` file straight from training (run by Keras). Both carry the same metadata and give the same
probabilities; this class hides which one runs.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from fer.model_file import MODEL_SUFFIXES, ModelFileError, ModelInfo, model_files, read_model_info, trained_model_stem
from fer.preprocessing import prepare_faces, tta_views
from fer.runtime import litert_available, open_network
from fer.settings import MODELS_DIR_VARIABLE


def shipped_models_dir() -> Path:
    """The shipped models: inside the installed package (`pip install .`, a wheel), else the checkout's models/."""
    installed = Path(str(importlib.resources.files("fer") / "models"))
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "models"


MODELS_DIR = shipped_models_dir()
PHOTOS_MODEL = "ferplus_ensemble"  # 2 CNNs trained from scratch on the FER+ votes, averaged, float: if present
PHOTOS_INT8_MODEL = "ferplus_ensemble.int8"  # the same ensemble with int8 weights, 4x faster: ships for photos
LIVE_MODEL = "ferplus_vgg48_degrade.int8"  # width-48 CNN distilled from the photos ensemble, int8: for live video
FALLBACK_MODEL = "ferplus_vgg48_degrade"  # the live model's float weights, run by Keras, where LiteRT is missing
PURPOSES = ("photos", "live")
MAX_BATCH = 64


def models_dir() -> Path:
    """The folder of models: the shipped ones, or `FER_MODELS_DIR` to use your own."""
    return Path(os.environ.get(MODELS_DIR_VARIABLE) or MODELS_DIR)


def usable_suffixes() -> tuple[str, ...]:
    """Model formats this installation can run, preferred first."""
    return MODEL_SUFFIXES if litert_available() else tuple(s for s in MODEL_SUFFIXES if s != ".tflite")


def available_models() -> list[Path]:
    """One file per model in the models folder, in the preferred format this installation runs."""
    files = model_files(models_dir())
    if ".tflite" not in usable_suffixes():  # list the .keras a LiteRT file came from, or nothing where none ships
        files = sorted({p.with_name(trained_model_stem(p) + ".keras") for p in files})
        files = [p for p in files if p.exists()]
    return files


def default_model_path(purpose: str = "photos") -> Path:
    """The model for `purpose`: for photos the float ensemble when present, else its int8 copy (what
    ships); for live video the fast distilled CNN; where LiteRT cannot run, that CNN's float weights in
    Keras for both; then the first model."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
    folder = models_dir()
    if purpose == "photos":
        stems = (PHOTOS_MODEL, PHOTOS_INT8_MODEL, LIVE_MODEL, FALLBACK_MODEL)
    else:
        stems = (LIVE_MODEL, FALLBACK_MODEL, PHOTOS_INT8_MODEL, PHOTOS_MODEL)
    for stem in stems:
        for suffix in usable_suffixes():
            if (folder / (stem + suffix)).exists():
                return folder / (stem + suffix)
    others = available_models()
    return others[0] if others else folder / (stems[0] + usable_suffixes()[0])


class EmotionClassifier:
    """A model written by `training.train` (`.tflite` or `.keras`), with its class list and input format."""

    def __init__(self, model_path: str | os.PathLike | None = None, threads: int | None = None) -> None:
        self.path = Path(model_path) if model_path else default_model_path()
        self.info: ModelInfo = read_model_info(self.path)
        self._network = open_network(self.path, threads)
        self.info.check_network(self.path, self._network.input_shape, self._network.classes)
        probabilities = self.predict_crops([np.zeros((*self.info.image_size, 3), np.uint8)])  # warm up
        if probabilities.shape != (1, len(self.class_names)):
            raise ModelFileError(f"{self.path} gives {probabilities.shape[-1]} outputs but its metadata names "
                                 f"{len(self.class_names)} classes")

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def name(self) -> str:
        return self.info.name

    def predict_crops(self, rgb_crops: Sequence[np.ndarray], tta: str = "none") -> np.ndarray:
        """Class probabilities, (N, classes) float32, for RGB (or grayscale) uint8 face crops.
        `tta="flip"` averages each face with its mirror image: a little more accurate, twice the work."""
        batch = prepare_faces(rgb_crops, self.info.image_size, self.info.channels)
        return self.predict_prepared(batch, tta)

    def predict_prepared(self, batch: np.ndarray, tta: str = "none") -> np.ndarray:
        """Probabilities for a uint8 batch already passed through `prepare_faces`, averaged over the
        test-time augmentation views of `tta`. Training's evaluation uses this same path."""
        if len(batch) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        probabilities = predict_with_tta(self._network.predict, batch, tta, MAX_BATCH)
        correction = self.info.prior_correction
        return probabilities if correction is None else correction.apply(probabilities)


def predict_with_tta(predict: Callable[[np.ndarray], np.ndarray], batch: np.ndarray, tta: str = "none",
                     max_batch: int = MAX_BATCH) -> np.ndarray:
    """The one prediction path with test-time augmentation, for the app and for training's evaluation:
    `predict` maps a float32 batch of prepared faces to probabilities; the views of `tta` are run in
    chunks of `max_batch` and their probabilities averaged per face."""
    views = tta_views(batch, tta)
    stacked = np.concatenate(views) if len(views) > 1 else batch
    outputs = [predict(stacked[start : start + max_batch].astype(np.float32))
               for start in range(0, len(stacked), max_batch)]
    probabilities = np.concatenate(outputs)
    return probabilities.reshape(len(views), len(batch), -1).mean(axis=0)
