"""Latency per face of the network at several widths, before training one: what fits the live budget?

    python benchmarks/width_latency.py [--widths 32 40 48 64]

Builds each width with `training.model.build_model` (untrained weights cost the same as trained ones),
saves it with its class list to a temporary file, loads it as the app does (`EmotionClassifier`) and
times one real face crop through `predict_crops`, the call the app makes, on ONE CPU thread (median
and p95 after warm-up), exactly as `latency.py` times a trained model. The live budget is 5 ms a face.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from latency import summary, timed  # first: importing it pins every library to one thread

# isort: split
from fer.classifier import EmotionClassifier
from fer.detection import default_detector, detect_faces, face_crop
from fer.model_file import ModelInfo, write_model_info
from fer.recognizer import CROP_MARGIN
from training.data import FER2013_CSV_CLASSES
from training.model import build_model

CLASS_NAMES = tuple(sorted(FER2013_CSV_CLASSES))  # the 7 FER2013 classes, in the folder layout's order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 40, 48, 64])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    from skimage import data

    photo = data.astronaut()
    crop = face_crop(photo, detect_faces(default_detector(), photo)[0], CROP_MARGIN)
    print("width  parameters  one face, 1 thread (EmotionClassifier.predict_crops)")
    with tempfile.TemporaryDirectory() as folder:
        for width in args.widths:
            path = Path(folder) / f"width{width}.keras"
            model = build_model((48, 48, 1), len(CLASS_NAMES), width=width)
            model.save(path)
            write_model_info(path, ModelInfo(path.stem, CLASS_NAMES, (48, 48), 1))
            classifier = EmotionClassifier(path)
            figures = summary(timed(lambda classifier=classifier: classifier.predict_crops([crop]), args.repeats))
            print(f"{width:5d}  {model.count_params():10,d}  median {figures['median_ms']:.2f} ms, "
                  f"p95 {figures['p95_ms']:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
