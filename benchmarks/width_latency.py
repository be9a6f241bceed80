"""Latency per face of the network at several widths, before training one: what fits the live budget?

    python benchmarks/width_latency.py [--widths 32 40 48 64] [--heads 1 2] [--convs-per-block 2 3] [--int8]

Builds each width with `training.model.build_model` (untrained weights cost the same as trained ones),
saves it with its class list to a temporary file, loads it as the app does (`EmotionClassifier`) and
times one real face crop through `predict_crops`, the call the app makes, on ONE CPU thread (median
and p95 after warm-up), exactly as `latency.py` times a trained model. `--heads` also times shared-trunk
ensembles (`--branch-blocks` conv blocks a head), as the app runs them (the heads' mean), and
`--convs-per-block` deeper blocks; `--int8` times the int8 LiteRT copy the app ships instead of the Keras
file. The live budget is 1.5 ms a face (int8).
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from latency import summary, timed  # first: importing it pins every library to one thread

# isort: split
from fer.classifier import EmotionClassifier
from fer.detection import default_detector, detect_faces, face_crop
from fer.model_file import ModelInfo
from fer.recognizer import CROP_MARGIN
from fer.settings import DEFAULTS
from training.data import FER2013_CSV_CLASSES
from training.export_litert import export_litert
from training.model import average_heads, build_model
from training.report import save_with_info

CLASS_NAMES = tuple(sorted(FER2013_CSV_CLASSES))  # the 7 FER2013 classes, in the folder layout's order


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 40, 48, 64])
    parser.add_argument("--heads", type=int, nargs="+", default=[1], help="heads of a shared-trunk ensemble")
    parser.add_argument("--branch-blocks", type=int, default=1, help="conv blocks each head has of its own")
    parser.add_argument("--convs-per-block", type=int, nargs="+", default=[2], help="3x3 convolutions a block")
    parser.add_argument("--int8", action="store_true", help="time the int8 LiteRT copy, as the app ships it")
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    from skimage import data

    photo = data.astronaut()
    box = detect_faces(default_detector(), photo, max_side=DEFAULTS.photo_detection_side,
                       min_confidence=DEFAULTS.min_confidence)[0]
    crop = face_crop(photo, box, CROP_MARGIN)
    kind = "int8 LiteRT" if args.int8 else "Keras, float32"
    print(f"width  heads  convs  parameters  one face, 1 thread (EmotionClassifier.predict_crops, {kind})")
    with tempfile.TemporaryDirectory() as folder:
        for width, heads, convs in itertools.product(args.widths, args.heads, args.convs_per_block):
            path = Path(folder) / f"width{width}_heads{heads}_convs{convs}.keras"
            model = average_heads(build_model((48, 48, 1), len(CLASS_NAMES), width=width, heads=heads,
                                              branch_blocks=args.branch_blocks, convs_per_block=convs))
            info = ModelInfo(path.stem, CLASS_NAMES, (48, 48), 1)
            if args.int8:
                path = path.with_suffix(".int8.tflite")
                export_litert(model, info, path, weights="int8")
            else:
                save_with_info(model, info, path)
            classifier = EmotionClassifier(path)
            figures = summary(timed(lambda classifier=classifier: classifier.predict_crops([crop]), args.repeats))
            print(f"{width:5d}  {heads:5d}  {convs:5d}  {model.count_params():10,d}  "
                  f"median {figures['median_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
