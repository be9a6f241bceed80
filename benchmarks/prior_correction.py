"""How a model's labels move with the prior correction's tau, on PublicTest: why the stored tau was chosen.

    python benchmarks/prior_correction.py [--model M] [--tta none] [--data ../shared/data/fer2013]

The file runs through `EmotionClassifier` without its stored correction; its probabilities are then divided
by the FER+ training prior to the power tau for each tau of `training.evaluate.TAU_GRID` between -0.5 and
0.5, and scored against the FER+ majority: balanced accuracy (what chooses tau), majority accuracy, and
recall of neutral, the common class that tau trades against the rare ones. A temperature never changes a
label, so it plays no part here. Only the validation split is scored.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

from fer.classifier import EmotionClassifier, default_model_path
from fer.model_file import PriorCorrection, describe_correction
from training.data import VAL, load_dataset_for
from training.ensemble import vote_prior
from training.evaluate import TAU_GRID, TTA_MODES, vote_metrics
from training.ferplus import join_votes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path("live")))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--tta", choices=TTA_MODES, default="none")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    stored = classifier.info.prior_correction
    classifier.info = replace(classifier.info, prior_correction=None)  # raw probabilities, corrected below
    dataset = join_votes(load_dataset_for(classifier.info, args.data), args.data, required=True)
    validation = dataset.splits[VAL]
    probabilities = classifier.predict_prepared(validation.images, args.tta)
    prior = tuple(float(p) for p in (stored.prior if stored else vote_prior(dataset)))
    print(f"{Path(args.model).name}, TTA {args.tta}, {int(validation.votes.clear.sum())} PublicTest faces "
          f"with a clear FER+ majority; stored correction: {describe_correction(stored)}")
    print(f"{'tau':>5}{'balanced':>10}{'majority':>10}{'neutral recall':>16}")
    for tau in (t for t in TAU_GRID if -0.5 <= t <= 0.5):
        metrics = vote_metrics(PriorCorrection(prior, tau).apply(probabilities), validation.votes, dataset.class_names)
        recall = metrics["per_class"]["neutral"]["recall"]
        mark = "  <- stored" if tau == (stored.tau if stored else 0.0) else ""
        print(f"{tau:>5.1f}{metrics['balanced_accuracy']:>10.4f}{metrics['accuracy']:>10.2%}{recall:>16.3f}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
