"""Accuracy on FER2013 labels and on the FER+ majority, with and without TTA, for any model file.

    python benchmarks/accuracy.py [--model M] [--data ../shared/data/fer2013] [--tta none flip]

The model (.tflite or .keras) runs exactly as the app runs it, through `EmotionClassifier` (with the prior
correction its file stores). PublicTest is the validation split used to choose; PrivateTest is only
reported. FER2013 columns: accuracy and macro-F1 against the folder labels, every face. FER+ columns
(when `ferplus/labels.csv` sits beside the data): the faces with a clear 7-class majority of the ten votes;
majority accuracy, balanced accuracy (mean recall of the 7 classes: the yardstick models are chosen by),
cross-entropy to the vote distribution and expected calibration error; then recall per class on both label
sets (the model card's tables), and where the faces of the expressions read worst on faces from elsewhere
(angry, sad, surprise) go: on both label sets, and on the subtle ones, whose raters split between the
expression and neutral.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

from fer.classifier import EmotionClassifier, default_model_path
from fer.model_file import describe_correction
from fer.report import add_entries
from training.data import SUBTLE_NEUTRAL_VOTES, TEST, TEST_ALL, VAL, load_dataset_for
from training.evaluate import TTA_MODES, evaluate_probabilities
from training.ferplus import join_votes

SPLIT_NAMES = {VAL: "PublicTest (validation)", TEST: "PrivateTest", TEST_ALL: "whole test folder"}
WATCHED = ("angry", "sad", "surprise")  # the expressions most often missed on faces from other sets
TTA_WIDTH = max(len(mode) for mode in TTA_MODES) + 2  # "tencrop" and a gap before the next column


def row_start(split: str, tta: str) -> str:
    """The first two columns of every table: the split and the test-time augmentation."""
    return f"{split:<26}{tta:<{TTA_WIDTH}}"


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
    print(row_start("split", "TTA") + f"{'FER2013 acc':>12}{'macro-F1':>9} |{'FER+ acc':>9}{'balanced':>9}"
          f"{'CE votes':>9}{'ECE':>7}{'s':>6}")
    recalls, fer2013_recalls, where_rows = [], [], []
    scores: dict[str, dict] = {}
    for split in (VAL, TEST, TEST_ALL):
        if split not in dataset.splits:
            continue
        data = dataset.splits[split]
        for tta in args.tta:
            start = time.perf_counter()
            probabilities = classifier.predict_prepared(data.images, tta)
            metrics = evaluate_probabilities(probabilities, data.labels, dataset.class_names, data.votes)
            seconds = time.perf_counter() - start
            scores.setdefault(split, {})[tta] = metrics
            line = row_start(SPLIT_NAMES[split], tta) + f"{metrics['accuracy']:>12.4f}{metrics['macro_f1']:>9.4f} |"
            fer2013_recalls.append((SPLIT_NAMES[split], tta, metrics["per_class"]))
            plus = metrics.get("ferplus")
            if plus:
                line += (f"{plus['accuracy']:>9.4f}{plus['balanced_accuracy']:>9.4f}"
                         f"{plus['cross_entropy_to_votes']:>9.3f}{plus['expected_calibration_error']:>7.3f}")
                recalls.append((SPLIT_NAMES[split], tta, plus["per_class"]))
            else:
                line += f"{'no FER+ votes':>34}"
            print(line + f"{seconds:>6.1f}")
            where_rows += where_faces_go(probabilities.argmax(axis=1), data, list(dataset.class_names),
                                         row_start(SPLIT_NAMES[split], tta))
    for title, rows in (("FER+ recall per class:", recalls), ("FER2013-label recall per class:", fer2013_recalls)):
        if rows:
            print_recalls(title, rows, dataset.class_names)
    if where_rows:
        print("Where angry, sad and surprise faces go (share of the class's faces read as each label; subtle: "
              f"FER+ majority with at least {SUBTLE_NEUTRAL_VOTES} neutral votes):")
        print(row_start("split", "TTA") + f"{'faces':<26}{'n':>5}"
              + "".join(f"{n[:8]:>9}" for n in dataset.class_names))
        print("\n".join(where_rows))
    if args.update_report:
        path = add_entries(args.model, "scores", {Path(args.model).name: {
            **scores, "measured": dt.date.today().isoformat(), "data": dataset.source}})
        print(f"stored in {path}")
    return 0


def where_faces_go(predicted: np.ndarray, data, names: list[str], prefix: str) -> list[str]:
    """For each watched class: the share of its faces read as each label, by FER2013's label, by the FER+
    majority and for the subtle FER+ faces (raters split with neutral: what posed subtle sets show most)."""
    groups = [("FER2013", data.labels == names.index(name), name) for name in WATCHED if name in names]
    if data.votes is not None and "neutral" in names:
        subtle = data.votes.subtle(names.index("neutral"))
        for name in WATCHED:
            if name in names:
                majority = data.votes.majority == names.index(name)
                groups += [("FER+", majority, name), ("FER+ subtle", majority & subtle, name)]
    lines = []
    for label_set, members, name in sorted(groups, key=lambda g: (WATCHED.index(g[2]), g[0])):
        count = int(members.sum())
        shares = np.bincount(predicted[members], minlength=len(names)) / max(1, count)
        lines.append(f"{prefix}{label_set + ' ' + name:<26}{count:>5}" + "".join(f"{v:>9.3f}" for v in shares))
    return lines


def print_recalls(title: str, rows: list[tuple[str, str, dict]], names: tuple[str, ...]) -> None:
    print(title)
    print(row_start("split", "TTA") + "".join(f"{n[:8]:>9}" for n in names))
    for split, tta, per_class in rows:
        print(row_start(split, tta) + "".join(f"{per_class[n]['recall']:>9.3f}" for n in names))


if __name__ == "__main__":
    raise SystemExit(main())
