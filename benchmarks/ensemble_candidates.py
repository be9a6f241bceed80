"""PublicTest accuracy of every average of the given models: how ensemble members are chosen.

    python benchmarks/ensemble_candidates.py A.keras B.keras C.keras [--data ../shared/data/fer2013]

Each model predicts the validation split (PublicTest for FER2013) once, without and with flip TTA;
every subset's averaged probabilities are then scored, best first. Only the validation split is
read, so the choice never looks at PrivateTest. Ship the winner with `python -m training.ensemble`.
"""

from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

import keras
import numpy as np

from training.data import VAL
from training.ensemble import load_members_dataset
from training.evaluate import predict_probabilities

TTAS = ("none", "flip")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    args = parser.parse_args()
    _, dataset = load_members_dataset(args.models, args.data)
    validation = dataset.splits[VAL]
    probabilities = {}
    for path in args.models:
        model = keras.models.load_model(path, compile=False)
        for tta in TTAS:
            probabilities[path.stem, tta] = predict_probabilities(model, validation.images, tta)
    rows = []
    for size in range(1, len(args.models) + 1):
        for subset in itertools.combinations([p.stem for p in args.models], size):
            accuracy = [float((np.mean([probabilities[name, tta] for name in subset], axis=0).argmax(axis=1)
                               == validation.labels).mean()) for tta in TTAS]
            rows.append((*accuracy, subset))
    print(f"validation accuracy of each average ({len(validation)} images), best first:")
    for plain, flipped, subset in sorted(rows, reverse=True):
        print(f"{plain:.2%}  flip {flipped:.2%}  {' + '.join(subset)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
