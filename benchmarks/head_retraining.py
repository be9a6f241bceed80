"""Whether re-weighting the training faces separates subtle expressions from neutral, or only moves the line.

    python benchmarks/head_retraining.py [--model models/float/ferplus_vgg64_ce_degrade_s2.keras] [--l2 1e-3]
                                         [--data ../shared/data/fer2013]

Subtle anger and sadness are read as neutral on faces from elsewhere. Class-balanced sampling and mining the
hard angry/neutral examples are the usual answers; both only change how much each training face counts, so
they can be tried on the last layer alone (classifier re-training, Kang et al. 2020) without training a
network again. The float member (a `training.train` model: its `fc_relu` features feed its `probabilities`
layer) runs once over Training, as is and flipped, and over PublicTest and PrivateTest. The last layer is then
fitted again to the FER+ vote distributions of the training faces, starting from and pulled towards the
shipped weights (`--l2`), under each weighting:

- uniform: every face once (the control: what refitting alone does);
- class-balanced and square-root balanced: each face weighted by 1 / (or 1 / the square root of) its
  majority class's share, what class-balanced sampling does in expectation;
- hard angry/neutral x3 and x10: the training faces whose majority is angry while the shipped layer gives
  neutral more, or the reverse, counted 3 or 10 times.

Each layer gets the output correction `training.ensemble` would store, chosen on PublicTest. Printed:
balanced / majority accuracy on PublicTest and PrivateTest (reported only, never chosen by), without TTA and
with flip; angry and neutral recall; and the subtle angry, sad and surprised faces of PublicTest (raters
split with neutral, `Votes.subtle`): recall / share read as neutral, with flip.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent

import keras
from scipy.optimize import minimize

from fer.model_file import PriorCorrection, read_model_info
from training.data import TEST, TRAIN, VAL, Votes, load_dataset_for
from training.ensemble import vote_prior
from training.evaluate import choose_output_correction, vote_metrics
from training.ferplus import join_votes

WATCHED = ("angry", "sad", "surprise")


def features_and_head(model_path: str) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """The network up to its last layer, and that layer's weights and bias."""
    model = keras.models.load_model(model_path, compile=False)
    try:
        features = keras.Model(model.inputs, model.get_layer("fc_relu").output)
        weights, bias = model.get_layer("probabilities").get_weights()
    except ValueError as error:
        raise SystemExit(f"{model_path} is not a float `training.train` model with fc_relu and probabilities "
                         f"layers: {error}") from None
    return features, weights, bias


def both_views(features: keras.Model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of the faces as they are and flipped (flip is the app's TTA, and a training view)."""
    return (features.predict(images, batch_size=512, verbose=0),
            features.predict(images[:, :, ::-1], batch_size=512, verbose=0))


def softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_head(x: np.ndarray, targets: np.ndarray, sample_weights: np.ndarray, l2: float,
             weights0: np.ndarray, bias0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted cross-entropy to the vote distributions plus l2 * |W - W0|^2: convex, so L-BFGS finds the one
    answer, and the pull towards the shipped weights keeps the layer from chasing the faces it memorised."""
    x = x.astype(np.float64)
    share = sample_weights / sample_weights.sum()
    dims, classes = weights0.shape

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weights, bias = theta[: dims * classes].reshape(dims, classes), theta[dims * classes:]
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -(share[:, None] * targets * log_p).sum() + l2 * ((weights - weights0) ** 2).sum()
        grad_logits = share[:, None] * (np.exp(log_p) * targets.sum(axis=1, keepdims=True) - targets)
        grad_weights = x.T @ grad_logits + 2 * l2 * (weights - weights0)
        return float(loss), np.concatenate([grad_weights.ravel(), grad_logits.sum(axis=0)])

    start = np.concatenate([weights0.ravel(), bias0]).astype(np.float64)
    theta = minimize(loss_and_gradient, start, jac=True, method="L-BFGS-B", options={"maxiter": 300}).x
    return theta[: dims * classes].reshape(dims, classes), theta[dims * classes:]


def training_weightings(votes: Votes, probabilities: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Each scheme's weight for every training face (the faces' clear majority, else their most voted class)."""
    angry, neutral = names.index("angry"), names.index("neutral")
    label = np.where(votes.majority >= 0, votes.majority, votes.counts.argmax(axis=1))
    share = np.bincount(label[votes.trainable], minlength=len(names)) / votes.trainable.sum()
    hard = (((label == angry) & (probabilities[:, neutral] > probabilities[:, angry]))
            | ((label == neutral) & (probabilities[:, angry] > probabilities[:, neutral])))
    print(f"{int(hard[votes.trainable].sum())} hard angry/neutral training faces of {int(votes.trainable.sum())}")
    return {
        "uniform (control)": np.ones(len(label)),
        "class-balanced": 1.0 / share[label],
        "square-root balanced": 1.0 / np.sqrt(share[label]),
        "hard angry/neutral x3": np.where(hard, 3.0, 1.0),
        "hard angry/neutral x10": np.where(hard, 10.0, 1.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "float" / "ferplus_vgg64_ce_degrade_s2.keras"))
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--l2", type=float, default=1e-3, help="pull of the refitted layer towards the shipped one")
    args = parser.parse_args()
    info = read_model_info(args.model)
    dataset = join_votes(load_dataset_for(info, args.data), args.data, required=True)
    names = list(dataset.class_names)
    features, weights0, bias0 = features_and_head(args.model)
    views = {split: both_views(features, dataset.splits[split].images) for split in (TRAIN, VAL, TEST)}
    prior = vote_prior(dataset)

    def probabilities(weights: np.ndarray, bias: np.ndarray, split: str, tta: str) -> np.ndarray:
        plain, flipped = views[split]
        p = softmax(plain @ weights + bias)
        return p if tta == "none" else (p + softmax(flipped @ weights + bias)) / 2

    def report_row(title: str, weights: np.ndarray, bias: np.ndarray) -> str:
        correction = (choose_output_correction(probabilities(weights, bias, VAL, "none"), dataset.splits[VAL].votes,
                                               prior) or PriorCorrection(tuple(float(p) for p in prior), 0.0))
        cells = [title, f"{correction.tau:g}"]
        for split in (VAL, TEST):
            for tta in ("none", "flip"):
                m = vote_metrics(correction.apply(probabilities(weights, bias, split, tta)),
                                 dataset.splits[split].votes, names)
                cells.append(f"{m['balanced_accuracy']:.3f} / {m['accuracy']:.1%}")
        votes = dataset.splits[VAL].votes
        predicted = correction.apply(probabilities(weights, bias, VAL, "flip")).argmax(axis=1)
        angry, neutral = names.index("angry"), names.index("neutral")
        cells.append(f"{np.mean(predicted[votes.majority == angry] == angry):.2f} / "
                     f"{np.mean(predicted[votes.majority == neutral] == neutral):.2f}")
        subtle = votes.subtle(neutral)
        for name in WATCHED:
            faces = subtle & (votes.majority == names.index(name))
            cells.append(f"{np.mean(predicted[faces] == names.index(name)):.2f} / "
                         f"{np.mean(predicted[faces] == neutral):.2f} ({int(faces.sum())})")
        return "| " + " | ".join(cells) + " |"

    train_votes = dataset.splits[TRAIN].votes
    keep = train_votes.trainable
    x = np.concatenate([views[TRAIN][0][keep], views[TRAIN][1][keep]])
    targets = np.concatenate([train_votes.distributions()[keep]] * 2)
    schemes = training_weightings(train_votes, softmax(views[TRAIN][0] @ weights0 + bias0), names)
    print(f"{Path(args.model).name}, last layer refitted with l2 {args.l2:g}")
    print("| last layer | tau | PublicTest | flip | PrivateTest | flip | angry / neutral recall | "
          + " | ".join(f"subtle {name}: recall / as neutral" for name in WATCHED) + " |")
    print("|" + " --- |" * 10)
    print(report_row("shipped", weights0, bias0), flush=True)
    for title, sample_weights in schemes.items():
        weights, bias = fit_head(x, targets, np.concatenate([sample_weights[keep]] * 2), args.l2, weights0, bias0)
        print(report_row(title, weights, bias), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
