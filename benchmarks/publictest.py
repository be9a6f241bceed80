"""PublicTest with its FER+ votes, and one table, for benchmarks that score the same faces several ways
against the way the app reads them. PublicTest is the validation split: what these choose never looks at
PrivateTest.

Each row's difference from the reference row comes with its paired bootstrap standard error (1,000
resamples of the faces, `training.evaluate.bootstrap_weights`): PublicTest has 31 disgust faces, so a
difference of 0.01 in balanced accuracy can be a handful of faces.
"""

from __future__ import annotations

import numpy as np

from fer.classifier import EmotionClassifier
from training.data import VAL, Split, load_dataset
from training.evaluate import bootstrap_balanced_accuracy, bootstrap_weights, classification_metrics
from training.ferplus import join_votes


def load_publictest(data: str, classifier: EmotionClassifier) -> Split:
    """PublicTest's 48 px grayscale faces with their FER+ votes; exits with a message where the votes are
    missing or the model's classes are not the data's."""
    dataset = load_dataset(data, image_size=48, color="grayscale")
    join_votes(dataset, data)
    validation = dataset.splits[VAL]
    if validation.votes is None:
        raise SystemExit("needs the FER+ votes (ferplus/labels.csv beside the data)")
    names = list(classifier.class_names)
    if names != list(dataset.class_names):
        raise SystemExit(f"the model's classes {names} are not the data's {list(dataset.class_names)}")
    return validation


def print_paired_table(title: str, predictions: dict[str, np.ndarray], reference: str, labels: np.ndarray,
                       names: list[str]) -> None:
    """One row per entry of `predictions` (predicted class per face): balanced and majority accuracy against
    `labels`, their paired difference from `predictions[reference]`, and recall per class."""
    weights = bootstrap_weights(len(labels))
    counts = np.bincount(labels, minlength=len(names))
    base = predictions[reference]
    base_balanced = bootstrap_balanced_accuracy(labels, base, len(names), weights)
    base_majority = weights @ (base == labels) / len(labels)
    width = max(len(key) for key in predictions) + 2
    print(f"\n{title}: {len(labels)} faces (" + ", ".join(f"{n} {c}" for n, c in zip(names, counts)) + ")")
    print(f"differences from {reference!r}, with their standard error")
    print(f"{'':<{width}}{'balanced':>9}{'majority':>9}{'difference (SE)':>22}{'difference (SE)':>22}"
          "   recall " + " ".join(name[:4] for name in names))
    for key, predicted in predictions.items():
        metrics = classification_metrics(labels, predicted, names)
        classes = metrics["per_class"].values()
        balanced = bootstrap_balanced_accuracy(labels, predicted, len(names), weights) - base_balanced
        majority = weights @ (predicted == labels) / len(labels) - base_majority
        print(f"{key:<{width}}{metrics['balanced_accuracy']:>9.3f}{metrics['accuracy']:>9.3f}"
              f"{balanced.mean():>+13.3f} ({balanced.std():.3f}){majority.mean():>+13.3f} ({majority.std():.3f})"
              "   " + " ".join(f"{c['recall']:>4.2f}" if c["support"] else "   -" for c in classes))
