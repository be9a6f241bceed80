"""Evaluate a model: `python -m training.evaluate --model M --data PATH [--split S] [--tta flip]`.

Prints accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix. Test-time
augmentation averages the probabilities of several views of each face: `flip` (2 views) or
`tencrop` (5 crops of 90% of the side, each also flipped).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from fer.atomic import write_text_atomic
from fer.classifier import predict_with_tta
from fer.model_file import ModelFileError, PriorCorrection, read_model_info
from fer.preprocessing import TTA_MODES
from training.data import TEST, TEST_ALL, VAL, DatasetError, Votes, load_dataset_for

# Prior corrections tried on validation: -1 to 2. Negative: the network already leans away from the
# common classes (a logit-adjusted loss, a corrected teacher) and part of the prior goes back in.
TAU_GRID = tuple(round(0.1 * i, 1) for i in range(-10, 21))
# Temperatures tried on validation: 0.25 to 4, evenly on a log scale, 1 (no change) among them.
TEMPERATURE_GRID = tuple(float(t) for t in np.round(np.exp(np.linspace(np.log(0.25), np.log(4.0), 97)), 4))


def predict_probabilities(
    model: keras.Model, images: np.ndarray, tta: str = "none", batch_size: int = 512,
    correction: PriorCorrection | None = None,
) -> np.ndarray:
    """Probabilities for prepared uint8 images, through the same TTA path and prior correction the app uses."""
    probabilities = predict_with_tta(lambda batch: model.predict(batch, batch_size=batch_size, verbose=0), images,
                                     tta, max_batch=8 * batch_size)
    return probabilities if correction is None else correction.apply(probabilities)


def vote_metrics(probabilities: np.ndarray, votes: Votes, class_names: list[str]) -> dict:
    """Scores against crowd votes, on the faces with a clear 7-class majority: the classification metrics
    of the majority label, cross-entropy to the vote distribution (how well the probabilities match what
    people saw) and expected calibration error (15 bins of confidence)."""
    clear = np.flatnonzero(votes.clear)
    probabilities, labels = probabilities[clear], votes.majority[clear]
    metrics = classification_metrics(labels, probabilities.argmax(axis=1), class_names)
    target = votes.subset(clear).distributions()
    metrics["cross_entropy_to_votes"] = float(-(target * np.log(np.clip(probabilities, 1e-7, 1.0))).sum(axis=1).mean())
    metrics["expected_calibration_error"] = calibration_error(probabilities, labels)
    metrics["reliability"] = reliability(probabilities, labels)
    return metrics


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict]:
    """A reliability diagram's points: per bin of top-class confidence, how many faces, their mean
    confidence and how often the top class was right (calibrated: the two agree in every bin)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    points = []
    for b in range(bins):
        members = which == b
        if members.any():
            points.append({"low": b / bins, "high": (b + 1) / bins, "faces": int(members.sum()),
                           "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return points


def calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the gap between confidence and accuracy, averaged over confidence bins
    weighted by their share of faces (0: a 70% answer is right 70% of the time)."""
    if len(labels) == 0:
        return 0.0
    return float(sum(point["faces"] / len(labels) * abs(point["accuracy"] - point["confidence"])
                     for point in reliability(probabilities, labels, bins)))


def choose_prior_correction(probabilities: np.ndarray, votes: Votes, prior: np.ndarray) -> PriorCorrection | None:
    """The tau of `TAU_GRID` whose correction gives the best balanced accuracy on these (validation) faces'
    majority labels, then the best accuracy, then the smallest correction; None when tau 0 (no
    correction) is best."""
    clear = votes.clear
    labels = votes.majority[clear]
    best, best_score = None, None
    for tau in sorted(TAU_GRID, key=abs):  # on a tie the smaller correction wins
        correction = PriorCorrection(tuple(float(p) for p in prior), tau)
        metrics = classification_metrics(labels, correction.apply(probabilities[clear]).argmax(axis=1),
                                         [str(i) for i in range(probabilities.shape[1])])
        score = (round(metrics["balanced_accuracy"], 6), round(metrics["accuracy"], 6))
        if best_score is None or score > best_score:
            best, best_score = correction, score
    return None if best is None or best.tau == 0 else best


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature of `TEMPERATURE_GRID` under which `labels` are most likely (temperature scaling,
    Guo et al. 2017): the one number that makes confidence match accuracy without moving any answer."""
    logs = np.log(np.clip(probabilities.astype(np.float64), 1e-12, 1.0))
    rows = np.arange(len(labels))

    def negative_log_likelihood(temperature: float) -> float:
        scaled = logs / temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        return float((np.log(np.exp(scaled).sum(axis=1)) - scaled[rows, labels]).mean())

    return min(TEMPERATURE_GRID, key=negative_log_likelihood)


def choose_output_correction(probabilities: np.ndarray, votes: Votes, prior: np.ndarray) -> PriorCorrection | None:
    """What the model file will store, chosen on these (validation) faces: the prior correction's tau
    (`choose_prior_correction`), then a temperature fitted to the majority labels of the corrected
    probabilities; None when neither changes anything."""
    correction = (choose_prior_correction(probabilities, votes, prior)
                  or PriorCorrection(tuple(float(p) for p in prior), 0.0))
    clear = votes.clear
    correction = replace(correction, temperature=fit_temperature(correction.apply(probabilities[clear]),
                                                                 votes.majority[clear]))
    return None if correction.tau == 0 and correction.temperature == 1.0 else correction


def classification_metrics(labels: np.ndarray, predicted: np.ndarray, class_names: list[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix
    (rows: true class, columns: predicted)."""
    n = len(class_names)
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    true_pos = np.diag(matrix).astype(np.float64)
    predicted_count = matrix.sum(axis=0).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(true_pos, predicted_count, out=np.zeros(n), where=predicted_count > 0)
    recall = np.divide(true_pos, support, out=np.zeros(n), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n), where=denom > 0)
    return {
        "count": len(labels),
        "accuracy": float(true_pos.sum() / max(1, len(labels))),
        "balanced_accuracy": float(recall[support > 0].mean()) if support.any() else 0.0,
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": matrix.tolist(),
    }


def bootstrap_weights(count: int, rounds: int = 1000, seed: int = 0) -> np.ndarray:
    """How often each of `count` faces is drawn in each of `rounds` resamples with replacement (rounds x
    count). Scoring two models with the same weights pairs them: their difference's spread then shows
    what a different draw of validation faces would do to it, with 31 disgust faces the largest part."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(count, np.full(count, 1.0 / count), size=rounds).astype(np.float32)


def bootstrap_balanced_accuracy(labels: np.ndarray, predicted: np.ndarray, n_classes: int,
                                weights: np.ndarray) -> np.ndarray:
    """Balanced accuracy (mean recall of the classes present) in each resample of `bootstrap_weights`."""
    onehot = np.eye(n_classes, dtype=np.float32)[labels]
    support = weights @ onehot
    hits = weights @ (onehot * (predicted == labels)[:, None])
    recall = np.divide(hits, support, out=np.full_like(hits, np.nan), where=support > 0)
    return np.nanmean(recall, axis=1)


def evaluate_probabilities(probabilities: np.ndarray, labels: np.ndarray, class_names: list[str],
                           votes: Votes | None = None) -> dict:
    """Metrics against the dataset's labels and, where the split has votes, under "ferplus" against them."""
    metrics = classification_metrics(labels, probabilities.argmax(axis=1), class_names)
    if votes is not None:
        metrics["ferplus"] = vote_metrics(probabilities, votes, class_names)
    return metrics


def evaluate_model(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, class_names: list[str], tta: str,
    votes: Votes | None = None, correction: PriorCorrection | None = None,
) -> dict:
    probabilities = predict_probabilities(model, images, tta, correction=correction)
    return evaluate_probabilities(probabilities, labels, class_names, votes)


def format_metrics(title: str, metrics: dict, class_names: list[str]) -> str:
    lines = [f"== {title}: {metrics['count']} images ==",
             f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}",
             f"{'class':<10}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}"]
    for name in class_names:
        m = metrics["per_class"][name]
        lines.append(f"{name:<10}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>8.3f}{m['support']:>9d}")
    width = max(8, max(len(c) for c in class_names) + 1)
    lines.append("confusion matrix (rows true, columns predicted):")
    lines.append(" " * width + "".join(f"{c[:7]:>8}" for c in class_names))
    for name, row in zip(class_names, metrics["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{v:>8d}" for v in row))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a .keras file written by training.train")
    parser.add_argument("--data", required=True, help="dataset path, any format training.train accepts")
    parser.add_argument("--split", default="auto",
                        help="val, test, test_all, or auto (test and test_all when present, else val)")
    parser.add_argument("--tta", choices=TTA_MODES, default="none")
    parser.add_argument("--json", dest="json_out", help="also write the metrics to this JSON file")
    args = parser.parse_args(argv)
    try:
        info = read_model_info(args.model)
        model = keras.models.load_model(args.model)
        dataset = load_dataset_for(info, args.data)
    except (ModelFileError, DatasetError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if list(info.class_names) != dataset.class_names:
        print(f"error: the model's classes {list(info.class_names)} differ from the dataset's "
              f"{dataset.class_names}", file=sys.stderr)
        return 2
    if args.split == "auto":
        splits = [s for s in (TEST, TEST_ALL) if s in dataset.splits] or [VAL]
    else:
        splits = [args.split]
    results = {}
    for split in splits:
        if split not in dataset.splits:
            print(f"error: the dataset has no {split!r} split (it has {', '.join(dataset.splits)})", file=sys.stderr)
            return 2
        data = dataset.splits[split]
        results[split] = evaluate_model(model, data.images, data.labels, dataset.class_names, args.tta)
        print(format_metrics(f"{info.name} on {split} (tta {args.tta})", results[split], dataset.class_names))
    if args.json_out:  # whole or not at all, as every file this project writes
        write_text_atomic(args.json_out, json.dumps({"model": args.model, "tta": args.tta, "results": results},
                                                    indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
