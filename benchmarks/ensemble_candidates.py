"""PublicTest scores of every average of the given models: how ensemble members are chosen.

    python benchmarks/ensemble_candidates.py A.keras B.keras C.keras [--data ../shared/data/fer2013]

Each model predicts the validation split (PublicTest for FER2013) once, without and with flip TTA; every
subset's averaged probabilities are then scored, best first. With the FER+ votes beside the data, each
average first gets the output correction `training.ensemble` would store (chosen on these faces without
TTA), and is ranked by FER+ balanced accuracy (to 0.001), then majority accuracy, with flip TTA (as the Photos page
runs it) before without; without the votes, by accuracy against the dataset's labels, flip first too.
Only the validation split is scored, so the choice never looks at PrivateTest. Ship the winner with
`python -m training.ensemble`. The models may read faces of different sizes (48 and 64 px, say): each
reads the validation faces in its own format and their probabilities are averaged face by face, though
`training.ensemble` still builds a file from members of one format only.

`--reference A B` (models among the given ones: the shipped file's members) adds, for each average, its
flip balanced accuracy minus the reference average's and the standard error of that difference over 1,000
paired bootstrap resamples of the validation faces. A best-of-many that wins by less than two of those
is as likely to be the draw of faces as the models.
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

from fer.model_file import ModelFileError, describe_correction, read_model_info
from training.data import VAL, Dataset, DatasetError, Votes
from training.ensemble import load_members_dataset, vote_prior
from training.evaluate import (
    bootstrap_balanced_accuracy,
    bootstrap_weights,
    choose_output_correction,
    predict_probabilities,
    vote_metrics,
)
from training.ferplus import join_votes

TTAS = ("none", "flip")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--reference", nargs="+", type=Path, default=[],
                        help="the models (among the ones above) whose average each is compared with")
    args = parser.parse_args()
    if not {path.stem for path in args.reference} <= {path.stem for path in args.models}:
        parser.error("--reference names models that are not among the models to score")
    try:
        dataset, images = validation_faces(args.models, args.data)
    except (ModelFileError, DatasetError) as err:
        parser.error(str(err))
    validation = dataset.splits[VAL]
    votes = validation.votes
    prior = vote_prior(dataset) if votes is not None else None
    probabilities = {}
    for path in args.models:
        model = keras.models.load_model(path, compile=False)
        for tta in TTAS:
            probabilities[path.stem, tta] = predict_probabilities(model, images[path], tta)
    rows = []
    for size in range(1, len(args.models) + 1):
        for subset in itertools.combinations([p.stem for p in args.models], size):
            averaged = {tta: np.mean([probabilities[name, tta] for name in subset], axis=0) for tta in TTAS}
            if votes is None:
                scores = [float((averaged[tta].argmax(axis=1) == validation.labels).mean()) for tta in TTAS]
                rows.append((scores, "", subset, None))
                continue
            correction = choose_output_correction(averaged["none"], votes, prior)
            scores = []
            for tta in TTAS:
                corrected = averaged[tta] if correction is None else correction.apply(averaged[tta])
                metrics = vote_metrics(corrected, votes, dataset.class_names)
                scores += [metrics["balanced_accuracy"], metrics["accuracy"]]
            # the labels with flip (the last of TTAS), which the reference comparison resamples
            rows.append((scores, describe_correction(correction), subset, corrected.argmax(axis=1)))
    if votes is None:
        rows.sort(key=lambda row: (row[0][1], row[0][0]), reverse=True)  # scores: without TTA, flip; flip first
        print(f"validation accuracy of each average ({len(validation)} images), best first:")
        for (plain, flipped), _, subset, _ in rows:
            print(f"{plain:.2%}  flip {flipped:.2%}  {' + '.join(subset)}")
        return 0
    # scores: balanced, majority without TTA, then with flip. Balanced accuracies compare to 0.001, a tenth
    # of a point, so that majority accuracy (the second yardstick) decides between averages only noise separates.
    rows.sort(key=lambda row: (round(row[0][2], 3), row[0][3], round(row[0][0], 3), row[0][1]), reverse=True)
    print(f"FER+ balanced / majority accuracy of each average ({int(votes.clear.sum())} validation faces "
          "with a clear majority), after its output correction, best first:")
    versus = against_reference(rows, {path.stem for path in args.reference}, votes)
    for (balanced, majority, flip_balanced, flip_majority), correction, subset, _ in rows:
        print(f"{balanced:.4f} / {majority:.2%}  flip {flip_balanced:.4f} / {flip_majority:.2%}  "
              f"{' + '.join(subset)}  ({correction}){versus.get(subset, '')}")
    return 0


def validation_faces(paths: list[Path], data: str) -> tuple[Dataset, dict[Path, np.ndarray]]:
    """The data set in the first model's format with the votes joined, and each model's validation faces in
    its own format: loaded once a format, the same faces in the same order, so probabilities average face
    by face."""
    by_format: dict[tuple, list[Path]] = {}
    for path in paths:
        info = read_model_info(path)
        by_format.setdefault((info.image_size, info.channels), []).append(path)
    loaded = [load_members_dataset(group, data)[1] for group in by_format.values()]
    images = {path: dataset.splits[VAL].images for group, dataset in zip(by_format.values(), loaded) for path in group}
    return join_votes(loaded[0], data), images


def against_reference(rows: list, reference: set[str], votes: Votes) -> dict[tuple, str]:
    """Each average's flip balanced accuracy minus the reference average's, with the paired bootstrap
    standard error of the difference, as text to print after the average (none without a reference)."""
    if not reference:
        return {}
    clear = np.flatnonzero(votes.clear)
    labels, weights = votes.majority[clear], bootstrap_weights(len(clear))
    flip_balanced = {subset: scores[2] for scores, _, subset, _ in rows}
    resampled = {subset: bootstrap_balanced_accuracy(labels, predicted[clear], votes.counts.shape[1], weights)
                 for _, _, subset, predicted in rows}
    base = next(subset for subset in resampled if set(subset) == reference)
    return {subset: f"  vs reference {flip_balanced[subset] - flip_balanced[base]:+.4f} "
                    f"(SE {np.std(scores - resampled[base]):.4f})" for subset, scores in resampled.items()}


if __name__ == "__main__":
    raise SystemExit(main())
