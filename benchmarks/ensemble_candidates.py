"""PublicTest scores of every average of the given models: how ensemble members are chosen.

    python benchmarks/ensemble_candidates.py A.keras B.keras C.keras [--data ../shared/data/fer2013]

Each model predicts the validation split (PublicTest for FER2013) once, without and with flip TTA; every
subset's averaged probabilities are then scored, best first. With the FER+ votes beside the data, each
average first gets the output correction `training.ensemble` would store (chosen on these faces without
TTA), and is ranked by FER+ balanced accuracy (to 0.001), then majority accuracy, with flip TTA (as the Photos page
runs it) before without; without the votes, by accuracy against the dataset's labels, flip first too.
Only the validation split is scored, so the choice never looks at PrivateTest. Ship the winner with
`python -m training.ensemble`.
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

from fer.model_file import describe_correction
from training.data import VAL
from training.ensemble import load_members_dataset, vote_prior
from training.evaluate import choose_output_correction, predict_probabilities, vote_metrics
from training.ferplus import join_votes

TTAS = ("none", "flip")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    args = parser.parse_args()
    _, dataset = load_members_dataset(args.models, args.data)
    dataset = join_votes(dataset, args.data)
    validation = dataset.splits[VAL]
    votes = validation.votes
    prior = vote_prior(dataset) if votes is not None else None
    probabilities = {}
    for path in args.models:
        model = keras.models.load_model(path, compile=False)
        for tta in TTAS:
            probabilities[path.stem, tta] = predict_probabilities(model, validation.images, tta)
    rows = []
    for size in range(1, len(args.models) + 1):
        for subset in itertools.combinations([p.stem for p in args.models], size):
            averaged = {tta: np.mean([probabilities[name, tta] for name in subset], axis=0) for tta in TTAS}
            if votes is None:
                scores = [float((averaged[tta].argmax(axis=1) == validation.labels).mean()) for tta in TTAS]
                rows.append((scores, "", subset))
                continue
            correction = choose_output_correction(averaged["none"], votes, prior)
            scores = []
            for tta in TTAS:
                corrected = averaged[tta] if correction is None else correction.apply(averaged[tta])
                metrics = vote_metrics(corrected, votes, dataset.class_names)
                scores += [metrics["balanced_accuracy"], metrics["accuracy"]]
            rows.append((scores, describe_correction(correction), subset))
    if votes is None:
        rows.sort(key=lambda row: (row[0][1], row[0][0]), reverse=True)  # scores: without TTA, flip; flip first
        print(f"validation accuracy of each average ({len(validation)} images), best first:")
        for (plain, flipped), _, subset in rows:
            print(f"{plain:.2%}  flip {flipped:.2%}  {' + '.join(subset)}")
        return 0
    # scores: balanced, majority without TTA, then with flip. Balanced accuracies compare to 0.001, a tenth
    # of a point, so that majority accuracy (the second yardstick) decides between averages only noise separates.
    rows.sort(key=lambda row: (round(row[0][2], 3), row[0][3], round(row[0][0], 3), row[0][1]), reverse=True)
    print(f"FER+ balanced / majority accuracy of each average ({int(votes.clear.sum())} validation faces "
          "with a clear majority), after its output correction, best first:")
    for (balanced, majority, flip_balanced, flip_majority), correction, subset in rows:
        print(f"{balanced:.4f} / {majority:.2%}  flip {flip_balanced:.4f} / {flip_majority:.2%}  "
              f"{' + '.join(subset)}  ({correction})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
