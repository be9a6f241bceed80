"""FER+ votes: the join by file path, training on vote distributions, scores on both label sets, and a
prior correction stored in the model file that every caller applies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fer.model_file import METADATA_MEMBER, ModelFileError, PriorCorrection, read_model_info
from fer.report import ModelReport
from tests.conftest import ROOT, write_image
from training.data import FER2013_CLASSES, TEST, TRAIN, VAL, DatasetError, load_dataset
from training.evaluate import (
    bootstrap_balanced_accuracy,
    bootstrap_weights,
    calibration_error,
    choose_output_correction,
    choose_prior_correction,
    classification_metrics,
    fit_temperature,
    vote_metrics,
)
from training.ferplus import attach_votes

HEADER = ("file,usage,fer2013_row,fer2013_label,"
          "neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF")
# FER+ columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
EMOTION_VOTES = {"angry": 4, "disgust": 5, "fear": 6, "happy": 1, "neutral": 0, "sad": 3, "surprise": 2}


def votes_for(name: str, share: int = 7) -> list[int]:
    """`share` of ten votes for the FER+ column of our class `name`, the rest for neutral (or happy)."""
    counts = [0] * 10
    counts[EMOTION_VOTES[name]] += share
    counts[1 if name == "neutral" else 0] += 10 - share
    return counts


def make_voted_fer2013(root, per_class: int = 2, size: int = 24):
    """A miniature Kaggle layout whose images are learnable (each class its own stripe period) and a FER+
    labels.csv beside it, in `root/fer2013` and `root/ferplus/labels.csv`."""
    rows = [HEADER]
    rng = np.random.default_rng(0)
    for c, name in enumerate(FER2013_CLASSES):
        for i in range(per_class):
            for folder, prefix, usage in (("train", "Training", "Training"), ("test", "PublicTest", "PublicTest"),
                                          ("test", "PrivateTest", "PrivateTest")):
                image = np.full((size, size), 90.0)
                image[:: c + 2] = 220
                image += rng.normal(0, 8, image.shape)
                rel = f"{folder}/{name}/{prefix}_{c}{i}.jpg"
                write_image(root / "fer2013" / rel, np.clip(image, 0, 255).astype(np.uint8))
                rows.append(f"{rel},{usage},{c * 100 + i},{name}," + ",".join(map(str, votes_for(name))))
    (root / "ferplus").mkdir(parents=True, exist_ok=True)
    (root / "ferplus" / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "fer2013", root / "ferplus" / "labels.csv"


def set_votes(labels_csv, file: str, counts: list[int]) -> None:
    lines = labels_csv.read_text().splitlines()
    lines = [line if not line.startswith(file + ",") else ",".join(line.split(",")[:4] + list(map(str, counts)))
             for line in lines]
    labels_csv.write_text("\n".join(lines) + "\n")


def test_votes_join_by_path_in_class_order(tmp_path):
    data, labels_csv = make_voted_fer2013(tmp_path)
    set_votes(labels_csv, "train/sad/Training_50.jpg", [4, 0, 0, 4, 0, 0, 0, 2, 0, 0])  # a tie: no majority
    set_votes(labels_csv, "train/sad/Training_51.jpg", [0, 0, 0, 2, 0, 0, 0, 0, 8, 0])  # mostly "unknown"
    set_votes(labels_csv, "train/angry/Training_01.jpg", [1, 0, 0, 0, 2, 0, 0, 7, 0, 0])  # contempt
    dataset = attach_votes(load_dataset(data), labels_csv)
    train = dataset.splits[TRAIN]
    index = {path: i for i, path in enumerate(train.paths)}
    angry0 = index["train/angry/Training_00.jpg"]
    # angry (4 votes in FER+'s anger column: 7 of 10) and neutral (3), in our alphabetical class order
    np.testing.assert_array_equal(train.votes.counts[angry0], [7, 0, 0, 0, 3, 0, 0])
    assert train.votes.majority[angry0] == FER2013_CLASSES.index("angry") and train.votes.trainable[angry0]
    tie, unknown, contempt = (index[f] for f in ("train/sad/Training_50.jpg", "train/sad/Training_51.jpg",
                                                 "train/angry/Training_01.jpg"))
    assert train.votes.majority[tie] == -1 and train.votes.trainable[tie]
    assert train.votes.majority[unknown] == -1 and not train.votes.trainable[unknown]
    assert train.votes.majority[contempt] == -1 and train.votes.trainable[contempt]
    np.testing.assert_allclose(train.votes.distributions()[contempt], [2 / 3, 0, 0, 0, 1 / 3, 0, 0])
    for split in (VAL, TEST):
        votes = dataset.splits[split].votes
        assert (votes.majority == dataset.splits[split].labels).all()  # these votes agree with the folders
    assert any("FER+ votes joined" in note for note in dataset.notes)


def test_a_missing_or_mismatched_votes_file_is_refused_in_one_line(tmp_path):
    data, labels_csv = make_voted_fer2013(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        attach_votes(load_dataset(data), tmp_path / "nowhere.csv")
    lines = labels_csv.read_text().splitlines()
    labels_csv.write_text("\n".join([lines[0]] + [line.replace("Training_", "Training_x") for line in lines[1:]]))
    with pytest.raises(DatasetError, match="match only"):
        attach_votes(load_dataset(data), labels_csv)
    (tmp_path / "bad.csv").write_text("file,anger\nx,1\n")
    with pytest.raises(DatasetError, match="not a FER\\+ labels file"):
        attach_votes(load_dataset(data), tmp_path / "bad.csv")
    out = subprocess.run([sys.executable, "-m", "training.train", "--data", str(data), "--labels", "ferplus",
                          "--votes", str(tmp_path / "nowhere.csv"), "--run-dir", str(tmp_path / "run"),
                          "--epochs", "1", "--width", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error:") and "nowhere.csv" in out.stderr


def test_vote_metrics_and_the_prior_correction_choice():
    from training.data import Votes

    counts = np.array([[8, 2], [6, 4], [1, 9], [5, 5]], np.float32)
    votes = Votes(counts, np.array([0, 0, 1, -1]), np.ones(4, bool))
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.5, 0.5]], np.float32)
    metrics = vote_metrics(probabilities, votes, ["a", "b"])
    assert metrics["count"] == 3 and metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["balanced_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
    expected_ce = -np.mean([0.8 * np.log(0.9) + 0.2 * np.log(0.1), 0.6 * np.log(0.2) + 0.4 * np.log(0.8),
                            0.1 * np.log(0.3) + 0.9 * np.log(0.7)])
    assert metrics["cross_entropy_to_votes"] == pytest.approx(expected_ce, rel=1e-5)
    assert calibration_error(np.array([[0.75, 0.25]] * 4), np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    assert calibration_error(np.array([[0.95, 0.05]] * 2), np.array([1, 1])) == pytest.approx(0.95)
    # Class b is rare in training (prior 0.1) and under-called: a correction that lifts it is chosen.
    many = Votes(np.array([[10, 0]] * 6 + [[0, 10]] * 4, np.float32), np.array([0] * 6 + [1] * 4), np.ones(10, bool))
    under = np.array([[0.9, 0.1]] * 6 + [[0.6, 0.4]] * 4, np.float32)
    correction = choose_prior_correction(under, many, np.array([0.9, 0.1]))
    assert correction is not None and correction.tau > 0
    assert (correction.apply(under).argmax(axis=1) == many.majority).all()
    assert choose_prior_correction(np.eye(2, dtype=np.float32)[many.majority], many, np.array([0.5, 0.5])) is None
    # Trained too hard against the prior, the network now under-calls the common class a: part of the
    # prior goes back in (a negative tau), and every face comes out right.
    over = np.array([[0.45, 0.55]] * 6 + [[0.1, 0.9]] * 4, np.float32)
    correction = choose_prior_correction(over, many, np.array([0.9, 0.1]))
    assert correction is not None and correction.tau < 0
    assert (correction.apply(over).argmax(axis=1) == many.majority).all()
    assert PriorCorrection.from_json(correction.to_json(), classes=2) == correction


def test_paired_bootstrap_resamples_faces_and_scores_balanced_accuracy_in_each():
    """Each resample draws as many faces as there are; scored with all weights 1 it is the plain balanced
    accuracy; two models scored with the same weights differ by a spread that shrinks as their answers agree."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 600)
    weights = bootstrap_weights(len(labels), rounds=400, seed=0)
    assert weights.shape == (400, 600) and (weights.sum(axis=1) == 600).all()
    predicted = np.where(rng.random(600) < 0.7, labels, (labels + 1) % 3)
    plain = classification_metrics(labels, predicted, ["a", "b", "c"])["balanced_accuracy"]
    assert bootstrap_balanced_accuracy(labels, predicted, 3, np.ones((1, 600), np.float32))[0] == pytest.approx(plain)
    scores = bootstrap_balanced_accuracy(labels, predicted, 3, weights)
    assert abs(scores.mean() - plain) < 0.01 and 0.01 < scores.std() < 0.04  # about sqrt(0.7 * 0.3 / 200 / 3)
    one_changed = predicted.copy()
    one_changed[0] = labels[0] if predicted[0] != labels[0] else (labels[0] + 1) % 3
    half_changed = np.where(rng.random(600) < 0.5, predicted, rng.integers(0, 3, 600))
    close = np.std(bootstrap_balanced_accuracy(labels, one_changed, 3, weights) - scores)
    far = np.std(bootstrap_balanced_accuracy(labels, half_changed, 3, weights) - scores)
    assert close < 0.005 < far


def test_prior_correction_divides_by_the_prior_and_is_validated():
    correction = PriorCorrection((0.8, 0.2), 1.0)
    np.testing.assert_allclose(correction.apply(np.array([[0.6, 0.4]])), [[0.6 / 0.8, 0.4 / 0.2]] / np.float32(2.75))
    np.testing.assert_allclose(PriorCorrection((0.8, 0.2), 0.0).apply(np.array([[0.6, 0.4]])), [[0.6, 0.4]])
    with pytest.raises(ValueError):
        PriorCorrection.from_json({"prior": [0.5, 0.5], "tau": 1}, classes=3)
    with pytest.raises(ValueError):
        PriorCorrection.from_json({"prior": [0.0, 1.0], "tau": 1}, classes=2)
    with pytest.raises(ValueError, match="tau"):
        PriorCorrection.from_json({"prior": [0.5, 0.5], "tau": -6}, classes=2)


def test_a_fitted_temperature_makes_confidence_match_accuracy_without_moving_an_answer():
    from training.data import Votes

    # Faces whose true class is drawn from `honest`; the network says the same thing twice as sure
    # (its log-probabilities doubled), the way an over-confident network does.
    rng = np.random.default_rng(0)
    honest = rng.dirichlet(np.ones(5), size=4000)
    labels = np.array([rng.choice(5, p=p) for p in honest])
    overconfident = honest ** 2 / (honest ** 2).sum(axis=1, keepdims=True)
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(2.0, rel=0.1)
    calibrated = PriorCorrection((0.2,) * 5, 0.0, temperature).apply(overconfident)
    assert (calibrated.argmax(axis=1) == overconfident.argmax(axis=1)).all()
    assert calibration_error(calibrated, labels) < calibration_error(overconfident, labels) / 2
    np.testing.assert_allclose(calibrated, honest, atol=0.05)
    # Chosen with the prior correction on validation faces: only the temperature is off, so tau stays 0.
    votes = Votes(np.eye(5, dtype=np.float32)[labels] * 10, labels, np.ones(len(labels), bool))
    correction = choose_output_correction(overconfident, votes, np.full(5, 0.2))
    assert correction is not None and correction.tau == 0 and correction.temperature == temperature
    stored = PriorCorrection.from_json(correction.to_json(), classes=5)
    assert stored == correction
    with pytest.raises(ValueError, match="temperature"):
        PriorCorrection.from_json({**correction.to_json(), "temperature": 0.0}, classes=5)
    # A model file written before temperatures existed reads as temperature 1.
    assert PriorCorrection.from_json({"prior": [0.5, 0.5], "tau": 1}, classes=2).temperature == 1.0


def test_training_on_votes_end_to_end(tmp_path):
    from training.train import TrainConfig, train

    data, _ = make_voted_fer2013(tmp_path, per_class=6)
    config = TrainConfig(data=str(data), output=str(tmp_path / "models" / "voted.keras"), run_dir=str(tmp_path / "run"),
                         name="voted", epochs=2, batch_size=16, width=4, blocks=2, dense_units=16, precision="float32",
                         warmup_epochs=0, labels="ferplus", logit_adjust=1.0)
    output = train(config)
    report = ModelReport.load(output)
    assert report.config["labels"] == "ferplus" and report.training["labels"] == "ferplus"
    assert "balanced accuracy then accuracy (FER+" in report.training["selection"]
    history = report.history
    assert all("val_balanced_accuracy" in row for row in history)
    best = report.training["best_epoch"]
    scores = [(row["val_balanced_accuracy"], row["val_accuracy"]) for row in history]
    assert best == 1 + scores.index(max(scores))
    for split in ("val", "test", "test_all"):
        for tta in ("none", "flip"):
            section = report.metrics(split, tta)
            assert section["count"] == 42 if split != "test_all" else 84  # FER2013 labels: every face
            ferplus = section["ferplus"]
            assert ferplus["count"] == (42 if split != "test_all" else 84)
            for key in ("accuracy", "balanced_accuracy", "cross_entropy_to_votes", "expected_calibration_error"):
                assert np.isfinite(ferplus[key])
            assert set(ferplus["per_class"]) == set(FER2013_CLASSES)
    assert report.splits["train"]["majority_counts"] == [6] * 7
    info = read_model_info(output)
    assert info.prior_correction == (None if "prior_correction" not in report.training else
                                     PriorCorrection.from_json(report.training["prior_correction"], 7))
    assert read_model_info(output.with_suffix(".tflite")) == info


def with_correction(source, target, prior, tau, temperature=1.0):
    """A copy of a .keras model whose metadata carries a prior correction (and a temperature)."""
    shutil.copyfile(source, target)
    with zipfile.ZipFile(source) as archive:
        raw = json.loads(archive.read(METADATA_MEMBER))
    raw["prior_correction"] = {"prior": prior, "tau": tau, "temperature": temperature}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            new.writestr(item, old.read(item.filename) if item.filename != METADATA_MEMBER else json.dumps(raw))
    return target


def test_a_stored_prior_correction_changes_predictions_in_the_library_and_cli(tmp_path, face_photo):
    from fer import EmotionRecognizer
    from fer.classifier import EmotionClassifier

    source = ROOT / "models" / "fer2013_vgg32.keras"
    plain = EmotionRecognizer(source).analyze(face_photo)[0]
    assert plain.label == "happy"
    # Happy was 99% of training: dividing by that prior hands the face to the next most likely class.
    prior = [0.001 / 6] * 7
    prior[FER2013_CLASSES.index("happy")] = 0.999
    # A temperature of 0.5 then makes it twice as sure, and changes no label.
    corrected_path = with_correction(source, tmp_path / "corrected.keras", prior, 1.0, temperature=0.5)
    corrected = EmotionRecognizer(corrected_path).analyze(face_photo)[0]
    plain_probabilities = np.array([[plain.probabilities[c] for c in FER2013_CLASSES]])
    expected = PriorCorrection(tuple(prior), 1.0, 0.5).apply(plain_probabilities)
    np.testing.assert_allclose([corrected.probabilities[c] for c in FER2013_CLASSES], expected[0], atol=1e-4)
    assert corrected.label != "happy"
    assert corrected.label == max(zip(expected[0], FER2013_CLASSES))[1]
    out = subprocess.run([sys.executable, "-m", "fer", "predict", "--model", str(corrected_path), "--format", "json",
                          str(write_image(tmp_path / "astronaut.png", face_photo))],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["faces"][0]["label"] == corrected.label  # --format json: one document
    with pytest.raises(ModelFileError, match="damaged metadata"):
        EmotionClassifier(with_correction(source, tmp_path / "bad.keras", [0.5] * 6, 1.0))


def test_an_ensemble_of_vote_trained_members_scores_both_label_sets(tmp_path, capsys):
    from training.ensemble import main as ensemble_main
    from training.train import TrainConfig, train

    data, _ = make_voted_fer2013(tmp_path, per_class=4)
    members = []
    for seed in (1, 2):
        members.append(train(TrainConfig(
            data=str(data), output=str(tmp_path / f"m{seed}.keras"), run_dir=str(tmp_path / f"run{seed}"),
            name=f"m{seed}", epochs=1, batch_size=16, width=2, blocks=2, dense_units=8, precision="float32",
            warmup_epochs=0, labels="ferplus", logit_adjust=1.0, seed=seed)))
    output = tmp_path / "ensemble.keras"
    assert ensemble_main(["--data", str(data), "--members", *map(str, members), "--output", str(output)]) == 0
    report = ModelReport.load(output)
    assert report.training["labels"] == "ferplus"
    assert report.metrics("test", "flip")["ferplus"]["count"] == 28
    correction = report.training.get("prior_correction")
    assert read_model_info(output).prior_correction == (
        None if correction is None else PriorCorrection.from_json(correction, 7))

    # Copied without their reports (as scripts/gpu_batch.sh brings members back), the members still get
    # the votes' scores and an output correction, because a stored correction says they learnt from the votes.
    bare = tmp_path / "bare"
    bare.mkdir()
    copies = [with_correction(path, bare / Path(path).name, [1 / 7] * 7, 0.5) for path in members]
    assert not any(path.with_suffix(".json").exists() for path in copies)
    output = tmp_path / "from_copies.keras"
    assert ensemble_main(["--data", str(data), "--members", *map(str, copies), "--output", str(output)]) == 0
    assert "no report found beside the model" in capsys.readouterr().err
    assert ModelReport.load(output).training["labels"] == "ferplus"


def test_votes_found_beside_other_data_are_skipped_not_fatal(tmp_path):
    """A FER+ file beside a dataset it does not fit (here a pixel CSV, which has no file paths) is left out
    of a FER2013-label run's report; asked for with --labels ferplus, it is an error."""
    from training.train import TrainConfig, with_votes

    data, _ = make_voted_fer2013(tmp_path)
    rows = ["emotion,pixels,Usage"] + [f"{i % 7},{' '.join(['100'] * 576)},{usage}"
                                       for usage in ("Training", "PublicTest", "PrivateTest") for i in range(7)]
    (tmp_path / "fer2013.csv").write_text("\n".join(rows) + "\n")
    csv_data = load_dataset(tmp_path / "fer2013.csv")
    assert with_votes(csv_data, TrainConfig(data=str(tmp_path / "fer2013.csv"))).splits[TRAIN].votes is None
    with pytest.raises(DatasetError, match="join by file path"):
        with_votes(csv_data, TrainConfig(data=str(tmp_path / "fer2013.csv"), labels="ferplus"))
    assert with_votes(load_dataset(data), TrainConfig(data=str(data))).splits[TRAIN].votes is not None
