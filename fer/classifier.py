"""The emotion CNN at inference time: load once, classify face crops fast, from any thread.

`predict_on_batch` runs Keras' compiled predict step directly (a few ms for one face), unlike
`predict()`, which builds a data pipeline on every call and costs tens of ms before any maths.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from fer.model_file import ModelFileError, ModelInfo, read_model_info
from fer.preprocessing import prepare_faces, tta_views

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
FAST_MODEL_NAME = "fer2013_vgg32.keras"  # one CNN, a few ms a face: live video
ACCURATE_MODEL_NAME = "fer2013_ensemble.keras"  # several CNNs averaged: photos, the CLI, the library
PURPOSES = ("photos", "video")
MAX_BATCH = 64


def models_dir() -> Path:
    """The folder of models: `models/` in the project, or `FER_MODELS_DIR` to use your own."""
    return Path(os.environ.get("FER_MODELS_DIR") or MODELS_DIR)


def default_model_path(purpose: str = "photos") -> Path:
    """The shipped model for `purpose`: the accurate ensemble for photos, the fast single CNN for
    live video; either falls back to the other, then to the first model in the folder."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}, not {purpose!r}")
    folder = models_dir()
    names = (ACCURATE_MODEL_NAME, FAST_MODEL_NAME) if purpose == "photos" else (FAST_MODEL_NAME, ACCURATE_MODEL_NAME)
    for name in names:
        if (folder / name).exists():
            return folder / name
    others = sorted(folder.glob("*.keras"))
    return others[0] if others else folder / names[0]


class EmotionClassifier:
    """A `.keras` model written by `training.train`, with its class list and input format."""

    def __init__(self, model_path: str | os.PathLike | None = None) -> None:
        import keras

        self.path = Path(model_path) if model_path else default_model_path()
        self.info: ModelInfo = read_model_info(self.path)
        try:
            self._model = keras.models.load_model(self.path, compile=False)
        except Exception as err:  # Keras raises many types for a damaged file
            raise ModelFileError(f"cannot load the model {self.path}: {err}") from err
        self._lock = threading.Lock()
        self.predict_crops([np.zeros((*self.info.image_size, 3), np.uint8)])  # compile before first use

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
        if tta == "none" or len(batch) == 0:
            return self.predict_prepared(batch)
        views = tta_views(batch, tta)
        probabilities = self.predict_prepared(np.concatenate(views))
        return probabilities.reshape(len(views), len(batch), -1).mean(axis=0)

    def predict_prepared(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for crops already passed through `prepare_faces`."""
        if len(batch) == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        outputs = []
        for start in range(0, len(batch), MAX_BATCH):
            chunk = batch[start : start + MAX_BATCH].astype(np.float32)
            with self._lock:  # Keras' compiled step is built lazily and is not re-entrant
                outputs.append(np.asarray(self._model.predict_on_batch(chunk), dtype=np.float32))
        return np.concatenate(outputs)
