"""Would a bias for each class beat the stored prior correction? Why the model files keep their one number.

    python benchmarks/class_bias.py [--model M] [--tta none] [--splits 5] [--data ../shared/data/fer2013]

The stored correction moves every class along one line: the probabilities divided by the training prior
to the power tau. Seven free biases (a log-offset per class, as vector scaling without the scale) can fit
what that line misses, such as a network that under-reads fear but not disgust. They are fitted as
calibration is, by the class-balanced negative log-likelihood of the FER+ majority labels, so each class
weighs the same, as in balanced accuracy (a smooth stand-in for it, less prone to chase single faces).

What it prints, for the file's raw probabilities (its own correction taken off, then put back as the
baseline): each way's FER+ balanced and majority accuracy on PublicTest and PrivateTest, then the honest
test of the choice: PublicTest cut in two halves `--splits` times at random, biases fitted on one half and
scored on the other against the stored correction, both ways round. Nothing is chosen on PrivateTest.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

import numpy as np
from scipy.optimize import minimize

from fer.classifier import EmotionClassifier, default_model_path
from fer.model_file import describe_correction
from training.data import TEST, VAL, load_dataset_for
from training.ensemble import vote_prior
from training.evaluate import TTA_MODES, classification_metrics
from training.ferplus import join_votes


def fit_class_bias(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Log-offsets (summing to zero) that minimise the class-balanced negative log-likelihood of `labels`."""
    logs = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))
    classes = probabilities.shape[1]
    weights = 1.0 / (classes * np.bincount(labels, minlength=classes)[labels])
    rows = np.arange(len(labels))

    def balanced_nll(bias: np.ndarray) -> float:
        scores = logs + bias
        scores -= scores.max(axis=1, keepdims=True)
        return float((weights * (np.log(np.exp(scores).sum(axis=1)) - scores[rows, labels])).sum())

    bias = minimize(balanced_nll, np.zeros(classes), method="L-BFGS-B").x
    return bias - bias.mean()


def score(probabilities: np.ndarray, labels: np.ndarray, bias: np.ndarray) -> tuple[float, float]:
    """(balanced accuracy, accuracy) of the labels the biased probabilities give."""
    predicted = (np.log(np.clip(probabilities, 1e-12, 1.0)) + bias).argmax(axis=1)
    metrics = classification_metrics(labels, predicted, [str(i) for i in range(probabilities.shape[1])])
    return metrics["balanced_accuracy"], metrics["accuracy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path("live")))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--tta", choices=TTA_MODES, default="none")
    parser.add_argument("--splits", type=int, default=5, help="random halvings of PublicTest")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    stored = classifier.info.prior_correction
    classifier.info = replace(classifier.info, prior_correction=None)  # raw probabilities
    dataset = join_votes(load_dataset_for(classifier.info, args.data), args.data, required=True)
    prior = np.asarray(stored.prior if stored else vote_prior(dataset), np.float64)
    stored_bias = -(stored.tau if stored else 0.0) * np.log(prior)  # p / prior**tau, as a log-offset
    faces = {}
    for name in (VAL, TEST):
        split = dataset.splits[name]
        clear = split.votes.clear
        faces[name] = (classifier.predict_prepared(split.images[clear], args.tta), split.votes.majority[clear])

    fitted = fit_class_bias(*faces[VAL])
    print(f"{Path(args.model).name}, TTA {args.tta}; stored correction {describe_correction(stored)}; FER+ majority, "
          f"{len(faces[VAL][1])} PublicTest and {len(faces[TEST][1])} PrivateTest faces")
    print(f"{'':34}{'PublicTest':>20}{'PrivateTest':>20}")
    for title, bias in (("stored correction", stored_bias), ("a bias per class (PublicTest)", fitted)):
        (val_balanced, val_accuracy), (test_balanced, test_accuracy) = (score(*faces[n], bias) for n in (VAL, TEST))
        print(f"{title:34}{val_balanced:>11.4f} {val_accuracy:>7.2%}{test_balanced:>12.4f} {test_accuracy:>7.2%}")
    moved = fitted - (stored_bias - stored_bias.mean())
    print("fitted log-offsets minus the stored ones: "
          + ", ".join(f"{name} {offset:+.2f}" for name, offset in zip(dataset.class_names, moved)))

    probabilities, labels = faces[VAL]
    rng = np.random.default_rng(0)
    gains = []
    for _ in range(args.splits):
        order = rng.permutation(len(labels))
        for fit_on, judge_on in ((order[::2], order[1::2]), (order[1::2], order[::2])):
            bias = fit_class_bias(probabilities[fit_on], labels[fit_on])
            gains.append(score(probabilities[judge_on], labels[judge_on], bias)[0]
                         - score(probabilities[judge_on], labels[judge_on], stored_bias)[0])
    gains = np.asarray(gains)
    print(f"fitted on half of PublicTest, judged on the other half ({len(gains)} times): balanced accuracy "
          f"{gains.mean():+.4f} against the stored correction (range {gains.min():+.4f} to {gains.max():+.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
