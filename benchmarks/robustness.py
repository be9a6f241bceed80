"""Where the models break on faces unlike FER2013's: small, blurred, compressed, dark, flat or noisy.

    python benchmarks/robustness.py [--model M] [--tta none] [--data ../shared/data/fer2013]

Photos and webcams differ from FER2013's faces in ways the default training augmentation (flips, turns,
shifts, zoom, erased patches) does not show: faces a few dozen pixels wide in group photos, out of focus,
heavily JPEG-compressed, under- or over-exposed, low in contrast, noisy in the dark (`--degrade` trains on
them: `training.augment.degrade_face`, built from the same functions). Each PublicTest face (the validation
split: this chooses what to train on next, so it never looks at PrivateTest) is degraded one way at a time,
then read as the app reads a face crop (`EmotionClassifier.predict_crops`, with the prior correction the
file stores). Scores: FER+ majority, clear faces, each condition against the clean faces with the paired
bootstrap standard error; the recall per class shows which expressions go first.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from benchmarks.publictest import load_publictest, print_paired_table
from fer.classifier import EmotionClassifier, default_model_path
from training.augment import add_noise, blur, contrast, gamma, jpeg, shrink
from training.evaluate import TTA_MODES

ROOT = Path(__file__).resolve().parent.parent
Degradation = Callable[[np.ndarray, np.ndarray], np.ndarray]  # a (48, 48, 1) uint8 face and its grain


CONDITIONS: dict[str, Degradation] = {
    "clean": lambda face, grain: face,
    **{f"face {side} px": (lambda face, grain, side=side: shrink(face, side)) for side in (32, 24, 16, 12)},
    **{f"blur sigma {s}": (lambda face, grain, s=s: blur(face, s)) for s in (1, 2)},
    **{f"JPEG quality {q}": (lambda face, grain, q=q: jpeg(face, q)) for q in (30, 10)},
    "dark (gamma 2)": lambda face, grain: gamma(face, 2.0),
    "bright (gamma 0.5)": lambda face, grain: gamma(face, 0.5),
    **{f"contrast x{c}": (lambda face, grain, c=c: contrast(face, c)) for c in (0.5, 0.25)},
    **{f"noise sigma {s}": (lambda face, grain, s=s: add_noise(face, grain, s)) for s in (10, 25)},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path("live")))
    parser.add_argument("--tta", choices=TTA_MODES, default="none", help="flip for the photos model, as Photos runs it")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    names = list(classifier.class_names)
    validation = load_publictest(args.data, classifier)
    clear = validation.votes.clear
    faces = validation.images[clear]
    grains = np.random.default_rng(0).standard_normal(faces.shape, dtype=np.float32)  # the same for every model
    print(f"model {Path(args.model).name}, TTA {args.tta}; {len(faces)} clear PublicTest faces")
    predictions = {}
    for name, degrade in CONDITIONS.items():
        crops = [np.repeat(degrade(face, grain), 3, axis=2) for face, grain in zip(faces, grains)]  # RGB, as the app's
        predictions[name] = classifier.predict_crops(crops, args.tta).argmax(axis=1)
    print_paired_table("each degradation alone", predictions, "clean", validation.votes.majority[clear], names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
