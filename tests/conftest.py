"""Shared fixtures: the real shipped model, a real face photo, FER2013 when it is present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import streamlit_webrtc  # noqa: F401 - before TensorFlow in every test process: see streamlit_app.py

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
FER2013 = ROOT.parent / "shared" / "data" / "fer2013"
# The small CNN trained on FER2013's own labels: it ships as .keras and as float16 .tflite, the quick real
# model of many tests (and the one the FER+ models were fine-tuned from).
FER2013_MODEL = "fer2013_vgg32"


@pytest.fixture(scope="session")
def fer2013_path() -> Path:
    if not (FER2013 / "train").is_dir() or not (FER2013 / "test").is_dir():
        pytest.skip(f"FER2013 is not at {FER2013}")
    return FER2013


@pytest.fixture(scope="session")
def face_photo() -> np.ndarray:
    """A real photo with one clearly visible face (NASA's astronaut, shipped by scikit-image)."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def recognizer():
    from fer import EmotionRecognizer

    return EmotionRecognizer()


def write_image(path: Path, array: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path
