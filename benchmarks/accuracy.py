"""Accuracy and macro-F1 on FER2013 PrivateTest and the whole test folder, with and without TTA.

    python benchmarks/accuracy.py [--model M] [--data ../shared/data/fer2013] [--tta none flip]

The model (.tflite or .keras) runs exactly as the app runs it, through `EmotionClassifier`.
PublicTest is the validation split used to pick the checkpoint; PrivateTest is only reported.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

from fer.classifier import EmotionClassifier, default_model_path
from training.data import TEST, TEST_ALL, VAL, load_dataset_for
from training.evaluate import TTA_MODES, classification_metrics

SPLIT_NAMES = {VAL: "PublicTest (validation)", TEST: "PrivateTest", TEST_ALL: "whole test folder"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(default_model_path()))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--tta", nargs="+", choices=TTA_MODES, default=list(TTA_MODES),
                        help="which test-time augmentations to score (ten-crop costs ten passes a face)")
    args = parser.parse_args()
    classifier = EmotionClassifier(args.model)
    info = classifier.info
    dataset = load_dataset_for(info, args.data)
    print(f"model {Path(args.model).name} ({Path(args.model).stat().st_size / 1e6:.1f} MB) on {dataset.source}")
    print(f"{'split':<26}{'TTA':<10}{'accuracy':>10}{'macro-F1':>10}{'seconds':>9}")
    for split in (VAL, TEST, TEST_ALL):
        if split not in dataset.splits:
            continue
        data = dataset.splits[split]
        for tta in args.tta:
            start = time.perf_counter()
            predicted = classifier.predict_prepared(data.images, tta).argmax(axis=1)
            metrics = classification_metrics(data.labels, predicted, dataset.class_names)
            seconds = time.perf_counter() - start
            print(f"{SPLIT_NAMES[split]:<26}{tta:<10}{metrics['accuracy']:>10.4f}{metrics['macro_f1']:>10.4f}"
                  f"{seconds:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
