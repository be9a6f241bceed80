"""Accuracy on FER2013 labels and on the FER+ majority, with and without TTA, for any model file.

    python benchmarks/accuracy.py [--model M] [--data ../shared/data/fer2013] [--tta none flip]

The model (.tflite or .keras) runs exactly as the app runs it, through `EmotionClassifier` (with the prior
correction its file stores). PublicTest is the validation split used to choose; PrivateTest is only
reported. FER2013 columns: accuracy and macro-F1 against the folder labels, every face. FER+ columns
(when `ferplus/labels.csv` sits beside the data): the faces with a clear 7-class majority of the ten votes;
majority accuracy, balanced accuracy (mean recall of the 7 classes: the yardstick models are chosen by),
cross-entropy to the vote distribution and expected calibration error; then recall per class on both label
sets (the model card's tables).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

from fer.classifier import EmotionClassifier, default_model_path
from fer.model_file import describe_correction
from fer.report import add_entries
from training.data import TEST, TEST_ALL, VAL, load_dataset_for
from training.evaluate import TTA_MODES, evaluate_probabilities
from training.ferplus import join_votes

SPLIT_NAMES = {VAL: "PublicTest (validation)", TEST: "PrivateTest", TEST_ALL: "whole test folder"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--votes", help="FER+ labels.csv (default: ferplus/labels.csv beside the data)")
    parser.add_argument("--tta", nargs="+", choices=TTA_MODES, default=["none", "flip"],
                        help="which test-time augmentations to score (ten-crop costs ten passes a face)")
    parser.add_argument("--update-report", action="store_true",
                        help="also store these figures in the model's report, under scores[file][split][tta]: "
                             "what the dashboard and Home page show for the file the app runs")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    dataset = load_dataset_for(classifier.info, args.data)
    join_votes(dataset, args.data, args.votes)
    print(f"model {Path(args.model).name} ({Path(args.model).stat().st_size / 1e6:.1f} MB) on {dataset.source}; "
          f"output correction {describe_correction(classifier.info.prior_correction)}")
    print(f"{'split':<26}{'TTA':<6}{'FER2013 acc':>12}{'macro-F1':>9} |{'FER+ acc':>9}{'balanced':>9}"
          f"{'CE votes':>9}{'ECE':>7}{'s':>6}")
    recalls, fer2013_recalls, confusions = [], [], []
    scores: dict[str, dict] = {}
    for split in (VAL, TEST, TEST_ALL):
        if split not in dataset.splits:
            continue
        data = dataset.splits[split]
        for tta in args.tta:
            start = time.perf_counter()
            metrics = evaluate_probabilities(classifier.predict_prepared(data.images, tta), data.labels,
                                             dataset.class_names, data.votes)
            seconds = time.perf_counter() - start
            scores.setdefault(split, {})[tta] = metrics
            line = f"{SPLIT_NAMES[split]:<26}{tta:<6}{metrics['accuracy']:>12.4f}{metrics['macro_f1']:>9.4f} |"
            fer2013_recalls.append((SPLIT_NAMES[split], tta, metrics["per_class"]))
            plus = metrics.get("ferplus")
            if plus:
                line += (f"{plus['accuracy']:>9.4f}{plus['balanced_accuracy']:>9.4f}"
                         f"{plus['cross_entropy_to_votes']:>9.3f}{plus['expected_calibration_error']:>7.3f}")
                recalls.append((SPLIT_NAMES[split], tta, plus["per_class"]))
                confusions.append((SPLIT_NAMES[split], tta, plus["confusion_matrix"]))
            else:
                line += f"{'no FER+ votes':>34}"
            print(line + f"{seconds:>6.1f}")
    for title, rows in (("FER+ recall per class:", recalls), ("FER2013-label recall per class:", fer2013_recalls)):
        if rows:
            print_recalls(title, rows, dataset.class_names)
    if confusions and {"angry", "neutral", "sad"} <= set(dataset.class_names):
        print_subtle_anger(confusions, list(dataset.class_names))
    if args.update_report:
        path = add_entries(args.model, "scores", {Path(args.model).name: {
            **scores, "measured": dt.date.today().isoformat(), "data": dataset.source}})
        print(f"stored in {path}")
    return 0


def print_subtle_anger(confusions: list[tuple[str, str, list[list[int]]]], names: list[str]) -> None:
    """Where subtle anger goes (read as neutral or sad, as on posed sets outside FER2013), and the reverse."""
    angry, neutral, sad = (names.index(n) for n in ("angry", "neutral", "sad"))
    print("FER+ majority: angry faces read as neutral / sad, neutral faces read as angry:")
    for split, tta, matrix in confusions:
        angry_row, neutral_row = matrix[angry], matrix[neutral]
        angry_total, neutral_total = max(1, sum(angry_row)), max(1, sum(neutral_row))
        print(f"{split:<26}{tta:<6}{angry_row[neutral]:>5} / {angry_row[sad]:>3} of {sum(angry_row):>4} "
              f"({angry_row[neutral] / angry_total:.3f} / {angry_row[sad] / angry_total:.3f});"
              f"{neutral_row[angry]:>5} of {sum(neutral_row):>5} ({neutral_row[angry] / neutral_total:.3f})")


def print_recalls(title: str, rows: list[tuple[str, str, dict]], names: tuple[str, ...]) -> None:
    print(title)
    print(f"{'split':<26}{'TTA':<6}" + "".join(f"{n[:8]:>9}" for n in names))
    for split, tta, per_class in rows:
        print(f"{split:<26}{tta:<6}" + "".join(f"{per_class[n]['recall']:>9.3f}" for n in names))


if __name__ == "__main__":
    raise SystemExit(main())
