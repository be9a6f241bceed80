"""Training end to end on a tiny generated dataset: train, report, evaluate, resume after a kill."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fer.model_file import read_model_info
from fer.report import ModelReport
from tests.conftest import ROOT, write_image
from training.augment import AugmentConfig
from training.batches import AugmentedBatches
from training.config import TrainConfig
from training.data import Split, Votes
from training.train import (
    TrainingError,
    choose_xla,
    compile_for_training,
    parse_args,
    sample_weights_for,
    settings_changed_on_resume,
    train,
)

CLASSES = ("horizontal", "vertical", "plain")


def make_pattern_dataset(root: Path, per_class: int, seed: int = 0) -> Path:
    """Three easy classes of 24x24 grayscale images: horizontal stripes, vertical stripes, flat."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("test", max(3, per_class // 4))):
        for c, name in enumerate(CLASSES):
            for i in range(count):
                image = np.full((24, 24), 128.0)
                if c == 0:
                    image[::4] = 230
                elif c == 1:
                    image[:, ::4] = 230
                image += rng.normal(0, 12, image.shape)
                write_image(root / split / name / f"{i}.png", np.clip(image, 0, 255).astype(np.uint8))
    return root


def tiny_config(tmp_path: Path, data: Path, **overrides) -> TrainConfig:
    values = dict(
        data=str(data), output=str(tmp_path / "models" / "tiny.keras"), run_dir=str(tmp_path / "run"), name="tiny",
        epochs=3, batch_size=16, width=4, blocks=2, dense_units=16, precision="float32", warmup_epochs=1,
        augment=AugmentConfig(rotate_degrees=5, shift=0.05, zoom=0.05, erase_probability=0.2),
        xla=False,  # the machine's choice is tested on its own; compiling every tiny run would only add time
    )
    values.update(overrides)
    return TrainConfig(**values)


def tiny_command(data: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    """`tiny_config` as a command line (batch 8), with its run in out/run."""
    return [sys.executable, "-m", "training.train", "--data", str(data), "--run-dir", str(out / "run"),
            "--output", str(out / "tiny.keras"), "--name", "tiny", "--epochs", str(epochs),
            "--batch-size", "8", "--width", "4", "--blocks", "2", "--dense-units", "16", "--precision", "float32",
            "--warmup-epochs", "1", "--rotate", "5", "--shift", "0.05", "--zoom", "0.05", "--erase", "0.2", "--no-xla",
            *extra]


def killed_after_an_epoch(command: list[str], run_dir: Path) -> dict:
    """Runs `command` until its run has saved an epoch, kills it (SIGKILL, its whole group): the saved state."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    state_file = run_dir / "state.json"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if state_file.exists() and json.loads(state_file.read_text())["epoch"] >= 1:
                break
            time.sleep(0.01)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    return json.loads(state_file.read_text())


def test_train_evaluate_and_report(tmp_path):
    data = make_pattern_dataset(tmp_path / "data", per_class=100)
    model_path = train(tiny_config(tmp_path, data, epochs=6, batch_size=8, learning_rate=3e-3))
    report = ModelReport.load(model_path)

    info = read_model_info(model_path)
    assert list(info.class_names) == sorted(CLASSES) and info.image_size == (24, 24) and info.channels == 1
    assert report.model["class_names"] == list(info.class_names)
    assert report.model["input_shape"] == [24, 24, 1]
    assert report.model["file_bytes"] == model_path.stat().st_size
    assert [row["epoch"] for row in report.history] == [1, 2, 3, 4, 5, 6]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        assert all(np.isfinite(row[key]) for row in report.history)
    assert set(report.splits) == {"train", "val", "test"}
    assert report.splits["val"]["class_counts"] == [10, 10, 10]
    assert len(report.dataset["fingerprint"]) == 64
    assert report.training["hardware"]["keras_backend"]
    assert {layer["type"] for layer in report.architecture} >= {"Conv2D", "Dense"}
    test = report.metrics("test")
    matrix = np.array(test["confusion_matrix"])
    assert matrix.sum() == 75 and test["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert test["accuracy"] > 0.6, "three striped/flat classes should be easy"
    assert report.training["best_epoch"] == 1 + int(np.argmax([r["val_accuracy"] for r in report.history]))
    litert = model_path.with_suffix(".tflite")  # the copy the app runs, with the same metadata
    section = report.litert[litert.name]
    assert read_model_info(litert) == info and section["file_bytes"] == litert.stat().st_size
    assert {split: row["same_predictions"] for split, row in section["agreement"].items()} == {"val": 30, "test": 75}
    assert section["agreement"]["test"]["accuracy"] == pytest.approx(test["accuracy"])

    out = subprocess.run(
        [sys.executable, "-m", "training.evaluate", "--model", str(model_path), "--data", str(data),
         "--split", "test", "--tta", "flip", "--json", str(tmp_path / "eval.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "macro-F1" in out.stdout and "confusion matrix" in out.stdout
    evaluated = json.loads((tmp_path / "eval.json").read_text())["results"]["test"]
    assert evaluated["accuracy"] == pytest.approx(report.metrics("test", "flip")["accuracy"])


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    """One batch worker uninterrupted; four workers killed part-way, resumed with one per core: the same run."""
    data = make_pattern_dataset(tmp_path / "data", per_class=120)
    epochs = 6
    reference = tiny_config(tmp_path / "a", data, epochs=epochs, batch_size=8, workers=1)
    train(reference)
    expected = json.loads((Path(reference.run_dir) / "state.json").read_text())

    run_dir = tmp_path / "b" / "run"
    command = tiny_command(data, tmp_path / "b", epochs, "--workers", "4")
    state_file = run_dir / "state.json"
    interrupted = killed_after_an_epoch(command, run_dir)
    assert 1 <= interrupted["epoch"] < epochs, "the run should have been killed part-way"

    # Settings that would change the run are refused, not ignored; the original command again is accepted.
    changed, _, given, _ = parse_args(["--resume", "--run-dir", str(run_dir), "--epochs", "9", "--erase=0.3",
                                    "--workers", "2"])
    with pytest.raises(TrainingError, match=r"differ: --epochs 9 \(the run's: 6\), --erase 0.3 \(the run's: 0.2\)\."):
        train(changed, resume=True, given=given)
    assert json.loads(state_file.read_text())["epoch"] == interrupted["epoch"]
    same, _, given, _ = parse_args([*command[3:], "--resume"])
    assert len(given) == 17 and settings_changed_on_resume(same, interrupted["config"], given) == []

    # As the README writes it, plus a new place for the result (where things are may change on resume).
    moved = tmp_path / "b" / "moved.keras"
    resumed_config, resume, given, _ = parse_args(["--resume", "--run-dir", str(run_dir), "--output", str(moved)])
    assert resume and resumed_config.data == "" and resumed_config.workers == 0
    assert train(resumed_config, resume=True, given=given) == moved and moved.exists()
    resumed = json.loads(state_file.read_text())
    assert resumed["epoch"] == epochs
    for got, want in zip(resumed["history"], expected["history"], strict=True):
        assert got["learning_rate"] == pytest.approx(want["learning_rate"])
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-4)
        assert got["val_accuracy"] == pytest.approx(want["val_accuracy"])

    import keras

    a = keras.models.load_model(Path(reference.run_dir) / "checkpoint.keras").get_weights()
    b = keras.models.load_model(run_dir / "checkpoint.keras").get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)


def test_finish_exports_a_stopped_runs_best_epoch_without_training_more(tmp_path):
    """A run stopped at a deadline (a lent GPU's) still gives a model file, its class list and a report."""
    data = make_pattern_dataset(tmp_path / "data", per_class=60)
    run_dir = tmp_path / "out" / "run"
    interrupted = killed_after_an_epoch(tiny_command(data, tmp_path / "out", 5), run_dir)
    assert 1 <= interrupted["epoch"] < 5, "the run should have been killed part-way"
    with pytest.raises(SystemExit):
        parse_args(["--finish", "--run-dir", str(run_dir)])  # --finish without --resume: a usage error

    config, resume, given, finish = parse_args(["--resume", "--finish", "--run-dir", str(run_dir)])
    assert resume and finish and "finish" not in given
    output = train(config, resume=True, given=given, finish=True)
    state = json.loads((run_dir / "state.json").read_text())
    assert state["epoch"] == interrupted["epoch"], "--finish must not train another epoch"
    assert read_model_info(output).class_names == tuple(sorted(CLASSES))
    report = json.loads(output.with_suffix(".json").read_text())
    assert len(report["history"]) == interrupted["epoch"]


def test_averaged_weights_are_what_a_run_keeps_and_a_killed_run_resumes_them(tmp_path):
    """--ema: validation, the checkpoint and the result hold the weights' moving average; a run killed after an
    epoch and resumed gives the uninterrupted run's history and weights."""
    import keras

    data = make_pattern_dataset(tmp_path / "data", per_class=60)
    reference = tiny_config(tmp_path / "a", data, epochs=4, batch_size=8, workers=1, ema=0.9)
    train(reference)
    expected = json.loads((Path(reference.run_dir) / "state.json").read_text())
    plain = tiny_config(tmp_path / "p", data, epochs=4, batch_size=8, workers=1)
    train(plain)
    plain_history = json.loads((Path(plain.run_dir) / "state.json").read_text())["history"]
    assert expected["history"][0]["loss"] == pytest.approx(plain_history[0]["loss"], rel=1e-4)  # the same training
    averaged = keras.models.load_model(Path(reference.run_dir) / "checkpoint.keras")
    own = keras.models.load_model(Path(plain.run_dir) / "checkpoint.keras")  # the same steps, not averaged
    assert max(np.abs(a - b).max() for a, b in zip(averaged.get_weights(), own.get_weights())) > 1e-3
    assert expected["history"][-1]["val_loss"] != plain_history[-1]["val_loss"]  # validation saw the average

    run_dir = tmp_path / "b" / "run"
    state_file = run_dir / "state.json"
    command = tiny_command(data, tmp_path / "b", 4, "--workers", "1", "--ema", "0.9")
    interrupted = killed_after_an_epoch(command, run_dir)
    assert 1 <= interrupted["epoch"] < 4, "the run should have been killed part-way"
    config, _, given, _ = parse_args(["--resume", "--run-dir", str(run_dir)])
    train(config, resume=True, given=given)
    resumed = json.loads(state_file.read_text())
    for got, want in zip(resumed["history"], expected["history"], strict=True):
        assert got["loss"] == pytest.approx(want["loss"], rel=1e-4)
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-4)
    a = keras.models.load_model(Path(reference.run_dir) / "best.keras").get_weights()
    b = keras.models.load_model(run_dir / "best.keras").get_weights()
    for wa, wb in zip(a, b, strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)
    with pytest.raises(TrainingError, match="--ema must be"):
        train(tiny_config(tmp_path / "c", data, ema=1.0))


def test_the_average_starts_from_the_weights_the_warm_up_reached():
    import keras

    from training.train import AveragedWeightsBetweenEpochs

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.AdamW(use_ema=True, ema_momentum=0.9), loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=1, verbose=0)  # builds the optimizer and its average
    kernel, average = model.trainable_variables[0], model.optimizer._model_variables_moving_average[0]
    callback = AveragedWeightsBetweenEpochs(resumed=False, start_epoch=2)
    callback.set_model(model)
    kernel.assign(np.full((2, 1), 5.0)), average.assign(np.zeros((2, 1)))
    callback.on_epoch_begin(2)  # the warm-up is over: the average begins from the weights it reached
    np.testing.assert_array_equal(average.numpy(), np.full((2, 1), 5.0))
    average.assign(np.zeros((2, 1)))
    callback.on_epoch_begin(3)  # from here on it averages
    np.testing.assert_array_equal(average.numpy(), np.zeros((2, 1)))
    np.testing.assert_array_equal(kernel.numpy(), np.full((2, 1), 5.0))


def test_resume_without_checkpoint_and_existing_run(tmp_path):
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(TrainConfig(data="x", run_dir=str(tmp_path / "none")), resume=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "state.json").write_text("{}")
    with pytest.raises(TrainingError, match="already holds a run"):
        train(TrainConfig(data="x", run_dir=str(tmp_path / "busy")))


def test_cli_turns_a_run_it_cannot_continue_into_one_line(tmp_path):
    """training raises a typed error (library callers can catch it); its command line prints one line."""
    out = subprocess.run([sys.executable, "-m", "training.train", "--resume", "--run-dir", str(tmp_path / "none")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stderr.splitlines() if line.startswith("error")]
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert lines == [f"error: --resume: no checkpoint in {tmp_path / 'none'} (looked for state.json)"]


def test_cli_reports_a_bad_dataset_without_a_traceback(tmp_path):
    bad = tmp_path / "fer2013.csv"
    bad.write_text("label,image\n0,1 2 3\n")
    out = subprocess.run([sys.executable, "-m", "training.train", "--data", str(bad), "--run-dir",
                          str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unexpected CSV header" in out.stderr and "Traceback" not in out.stderr


def test_ctrl_c_says_how_to_resume(tmp_path):
    data = make_pattern_dataset(tmp_path / "data", per_class=120)
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "training.train", "--data", str(data), "--run-dir", str(run_dir), "--output",
         str(tmp_path / "tiny.keras"), "--epochs", "30", "--batch-size", "8", "--width", "4", "--blocks", "2",
         "--precision", "float32"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (run_dir / "state.json").exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert f"--resume --run-dir {run_dir}" in stderr and "Traceback" not in stderr


def test_subtle_expressions_weigh_more_in_the_loss_and_reach_the_batches():
    """--subtle-weight: a face whose raters split between an expression and neutral counts that many times more."""
    names = ["angry", "happy", "neutral"]
    counts = np.array([[8, 0, 2], [10, 0, 0], [0, 7, 3], [2, 0, 8], [5, 5, 0], [6, 0, 1]], np.float32)
    votes = Votes(counts, np.array([0, 0, 1, 2, -1, 0]), np.ones(6, bool))
    assert votes.subtle(neutral=2).tolist() == [True, False, True, False, False, False]  # not neutral, not a tie
    split = Split(np.zeros((6, 8, 8, 1), np.uint8), counts.argmax(axis=1), votes=votes)
    assert sample_weights_for(split, names, TrainConfig(data="x")) is None
    weights = sample_weights_for(split, names, TrainConfig(data="x", subtle_weight=3.0))
    assert weights[0] == pytest.approx(3 * weights[1]) and weights[2] == pytest.approx(3 * weights[3])
    assert weights.mean() == pytest.approx(1.0)
    batches = AugmentedBatches(split.images, split.labels, 3, TrainConfig(data="x", batch_size=6), weights)
    order = np.random.default_rng([batches.config.seed, 0]).permutation(6)
    np.testing.assert_allclose(batches[0][2], weights[order])  # each face keeps its own weight when shuffled
    split.votes = None
    with pytest.raises(TrainingError, match="FER\\+ votes"):
        sample_weights_for(split, names, TrainConfig(data="x", subtle_weight=3.0))
    assert parse_args(["--data", "x", "--subtle-weight", "2"])[0].subtle_weight == 2.0


def test_batches_from_threads_equal_the_serial_batches():
    """Batches depend on (seed, epoch, index) only: threads preparing them at once give the serial ones."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (400, 24, 24, 1), dtype=np.uint8), rng.integers(0, 3, 400)
    batches = AugmentedBatches(images, labels, 3, TrainConfig(data="x", batch_size=16, workers=4))
    assert batches.workers == 4
    batches.epoch = 2
    serial = [batches[i][0] for i in range(len(batches))]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda i: batches[i][0], reversed(range(len(batches)))))[::-1]
    for a, b in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(a, b)
    batches.epoch = 3
    assert not np.array_equal(serial[0], batches[0][0])


def test_distillation_end_to_end_on_a_tiny_dataset(tmp_path):
    """A student learns from a teacher's cached probabilities; the run resumes with the same targets."""
    from training.distill import TARGETS_FILE, blended_targets, soften

    data = make_pattern_dataset(tmp_path / "data", per_class=40)
    teacher = train(tiny_config(tmp_path / "teacher", data, epochs=2))
    student = tiny_config(tmp_path / "student", data, epochs=2, width=2, teacher=str(teacher), distill_weight=0.5)
    started = time.monotonic()
    output = train(student)
    assert time.monotonic() - started < 60
    cached = list(Path(student.run_dir).glob(Path(TARGETS_FILE).stem + "-*.npz"))
    assert len(cached) == 1
    probabilities = np.load(cached[0])["probabilities"]
    assert probabilities.shape == (108, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    report = ModelReport.load(output)
    assert report.training["distilled_from"] == "tiny.keras" and report.config["teacher"] == str(teacher)
    # The kept probabilities teach another run (as on a machine that cannot run the teacher's file).
    second = tiny_config(tmp_path / "second", data, epochs=1, width=2, teacher=str(cached[0]), distill_weight=0.5)
    assert ModelReport.load(train(second)).training["distilled_from"] == "tiny.keras"
    assert not list(Path(second.run_dir).glob(Path(TARGETS_FILE).stem + "-*"))
    flat = soften(np.array([[0.9, 0.1]]), 3.0)
    assert 0.5 < flat[0, 0] < 0.9 and flat.sum() == pytest.approx(1)
    np.testing.assert_allclose(blended_targets(np.array([[1.0, 0.0]]), np.array([[0.2, 0.8]]), 0.5, 1.0), [[0.6, 0.4]])


def test_a_consistent_teacher_reads_each_batch_as_the_student_sees_it(tmp_path):
    """--consistent-teacher: each target blends the teacher's reading of that very augmented face, from any
    number of threads; the run keeps no cache of clean-face readings and says so in its report."""
    from concurrent.futures import ThreadPoolExecutor

    import cv2
    from skimage import data as skimage_data

    from fer.classifier import EmotionClassifier
    from fer.model_file import ModelFileError
    from training.distill import TARGETS_FILE, BatchTeacher, blended_targets

    live = ROOT / "models" / "ferplus_vgg48_degrade.int8.tflite"  # a real teacher: its readings follow the face
    face = cv2.cvtColor(skimage_data.astronaut()[30:230, 120:320], cv2.COLOR_RGB2GRAY)
    images = np.stack([cv2.resize(face[i % 8 : 192 + i % 8, i // 8 : 192 + i // 8], (48, 48))
                       for i in range(64)])[..., None]
    labels = np.random.default_rng(0).integers(0, 7, 64)
    config = TrainConfig(data="x", batch_size=16, workers=4, augment=AugmentConfig(erase_probability=0.5))
    reader = EmotionClassifier(live)
    classes = list(reader.class_names)
    teacher = BatchTeacher(str(live), classes, images.shape[1:], weight=0.5, temperature=1.0)
    batches = AugmentedBatches(images, labels, 7, config, teacher=teacher)
    plain = AugmentedBatches(images, labels, 7, config)
    x, y = batches[1]
    np.testing.assert_array_equal(x, plain[1][0])  # the teacher changes the targets, never the faces
    np.testing.assert_allclose(y, blended_targets(plain[1][1], reader.predict_prepared(x), 0.5, 1.0), atol=1e-5)
    order = np.random.default_rng([config.seed, 0]).permutation(64)[16:32]
    clean = blended_targets(plain[1][1], reader.predict_prepared(images[order]), 0.5, 1.0)
    assert np.abs(y - clean).max() > 0.01  # not the teacher's reading of the clean faces
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda i: batches[i][1], range(len(batches))))
    for index, targets in enumerate(threaded):
        np.testing.assert_allclose(targets, batches[index][1], atol=1e-6)
    with pytest.raises(ModelFileError, match="must be a model file"):
        BatchTeacher(str(tmp_path / "saved.npz"), classes, images.shape[1:], weight=0.5, temperature=1.0)

    data = make_pattern_dataset(tmp_path / "data", per_class=20)
    teacher_file = train(tiny_config(tmp_path / "teacher", data, epochs=1))
    student = tiny_config(tmp_path / "student", data, epochs=1, width=2, teacher=str(teacher_file),
                          distill_weight=0.5, consistent_teacher=True)
    report = ModelReport.load(train(student))
    assert report.training["distilled_from"] == "tiny.keras" and report.training["teacher_reads_batches"] is True
    assert not list(Path(student.run_dir).glob(Path(TARGETS_FILE).stem + "-*"))
    assert parse_args(["--data", "x", "--teacher", "t.keras", "--consistent-teacher"])[0].consistent_teacher
    with pytest.raises(TrainingError, match="give a --teacher model file"):
        train(tiny_config(tmp_path / "alone", data, consistent_teacher=True))


def test_saved_teacher_probabilities_teach_only_the_images_they_were_computed_on(tmp_path):
    """Another machine's decoder may move a grey level or two; a face out of place, other faces or other
    classes are refused in words."""
    from fer.model_file import ModelFileError
    from training.distill import save_probabilities, teacher_probabilities

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 24, 24, 1), dtype=np.uint8)
    probabilities = rng.dirichlet(np.ones(3), 50).astype(np.float32)
    saved = tmp_path / "teacher_targets.npz"
    save_probabilities(saved, probabilities, images, CLASSES, "teacher.int8.tflite")
    decoded_elsewhere = np.clip(images.astype(int) + rng.integers(-1, 2, images.shape), 0, 255).astype(np.uint8)
    kept = teacher_probabilities(str(saved), decoded_elsewhere, CLASSES, tmp_path)
    np.testing.assert_array_equal(kept, probabilities)
    for other in [images[::-1], images[:49], images[:, :20, :20]]:  # out of order, one face fewer, smaller
        with pytest.raises(ModelFileError, match="other training images"):
            teacher_probabilities(str(saved), other, CLASSES, tmp_path)
    with pytest.raises(ModelFileError, match="for the classes"):
        teacher_probabilities(str(saved), images, [*CLASSES[:2], "other"], tmp_path)
    (tmp_path / "broken.npz").write_bytes(b"not numpy")
    with pytest.raises(ModelFileError, match="not a teacher's saved probabilities"):
        teacher_probabilities(str(tmp_path / "broken.npz"), images, CLASSES, tmp_path)


def test_a_teacher_with_other_classes_is_refused(tmp_path):
    data = make_pattern_dataset(tmp_path / "data", per_class=10)
    shipped = str(ROOT / "models" / "fer2013_vgg32.keras")  # seven emotions, 48x48: not these stripes
    out = subprocess.run([sys.executable, "-m", "training.train", "--data", str(data), "--run-dir",
                          str(tmp_path / "run"), "--output", str(tmp_path / "m.keras"), "--epochs", "1", "--width", "2",
                          "--teacher", shipped], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "teacher" in out.stderr and "Traceback" not in out.stderr


def test_best_checkpoint_holds_the_best_epoch_not_the_last(tmp_path):
    """Validation accuracy 0.5, 0.8, 0.6: best.keras keeps epoch 2's weights while checkpoint.keras moves on."""
    import keras

    from training.model import build_model
    from training.train import BEST, CHECKPOINT, EpochKeeper

    config = TrainConfig(data="x", epochs=3, run_dir=str(tmp_path))
    model = build_model((12, 12, 1), 3, width=2, blocks=1, dense_units=4, dropout=0.0, name="tiny")
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    state = {"epoch": 0, "history": [], "best_val_accuracy": -1.0, "best_epoch": 0,
             "epochs_without_improvement": 0, "lr_scale": 1.0, "train_seconds": 0.0, "stopped_early": False}
    keeper = EpochKeeper(config, tmp_path, batches=None, state=state)
    keeper.set_model(model)
    weights_at = {}
    for epoch, val_accuracy in enumerate([0.5, 0.8, 0.6]):
        model.set_weights([np.full_like(w, epoch + 1) for w in model.get_weights()])
        weights_at[epoch + 1] = model.get_weights()
        keeper.on_epoch_end(epoch, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.0, "val_accuracy": val_accuracy})
    assert state["best_epoch"] == 2 and state["epoch"] == 3
    for path, epoch in ((tmp_path / BEST, 2), (tmp_path / CHECKPOINT, 3)):
        for got, want in zip(keras.models.load_model(path).get_weights(), weights_at[epoch], strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_float16_copy_is_half_the_size_loads_as_float32_and_starts_a_run(tmp_path):
    """models/float/ keeps shipped networks' weights as float16 copies: the app and --init read them as
    ordinary float32 models, within the copy's tolerance, and the original is never overwritten."""
    import keras

    from training.float16_copy import TOLERANCE, largest_difference, main
    from training.model import build_model
    from training.train import start_from

    model = build_model((24, 24, 1), 3, width=32, blocks=2, dense_units=128, dropout=0.0, name="small")
    rng = np.random.default_rng(0)
    # positive weights: the batch norms' variances must be
    model.set_weights([rng.uniform(0.01, 0.1, w.shape).astype(np.float32) for w in model.get_weights()])
    original, copy = tmp_path / "small.keras", tmp_path / "float" / "small.keras"
    model.save(original)
    (tmp_path / "small.json").write_text(json.dumps({"report_version": 1, "model": {"file_bytes": 1}}))
    before = original.read_bytes()
    assert main([str(original), "--output", str(original)]) == 2 and original.read_bytes() == before
    assert main([str(original), "--output", str(copy)]) == 0
    assert copy.stat().st_size < 0.75 * original.stat().st_size
    carried = json.loads((tmp_path / "float" / "small.json").read_text())["model"]  # the report goes with it
    assert carried == {"file_bytes": copy.stat().st_size, "stored_weights": "float16"}
    loaded = keras.models.load_model(copy, compile=False)
    assert all(w.dtype == np.float32 for w in loaded.get_weights())
    assert 0 < largest_difference(original, copy) <= TOLERANCE  # rounded, not identical, and close
    fresh = build_model((24, 24, 1), 3, width=32, blocks=2, dense_units=128, dropout=0.0, name="small")
    start_from(fresh, str(copy))
    for got, want in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-3)
    assert list(tmp_path.rglob(".staging-*")) == []


def test_cutmix_reaches_the_batches_and_a_run_trains_with_it(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (64, 24, 24, 1), dtype=np.uint8), rng.integers(0, 3, 64)
    plain = AugmentedBatches(images, labels, 3, TrainConfig(data="x", batch_size=32, workers=1))
    mixed = AugmentedBatches(images, labels, 3, TrainConfig(data="x", batch_size=32, workers=1, cutmix_alpha=1.0))
    (_, one_hot), (_, soft) = plain[0], mixed[0]
    assert set(np.unique(one_hot)) == {0.0, 1.0}
    assert ((soft > 0) & (soft < 1)).any(axis=1).sum() > 10  # most faces now carry a share of another's class
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)

    data = make_pattern_dataset(tmp_path / "data", per_class=20)
    assert train(tiny_config(tmp_path, data, epochs=1, cutmix_alpha=1.0)).exists()
    assert parse_args(["--data", "x", "--cutmix", "1"])[0].cutmix_alpha == 1.0
    with pytest.raises(TrainingError, match="choose one"):
        train(tiny_config(tmp_path / "b", data, mixup_alpha=0.2, cutmix_alpha=1.0))


def test_weaken_reaches_the_batches_and_a_run_with_a_neutral_class_trains_with_it(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (64, 24, 24, 1), dtype=np.uint8), rng.integers(0, 3, 64)
    config = TrainConfig(data="x", batch_size=32, workers=1, weaken=1.0)
    (_, soft) = AugmentedBatches(images, labels, 3, config, neutral=2)[0][:2]
    expressive = soft.argmax(axis=1) != 2
    assert (soft[expressive, 2] > 0).mean() > 0.9  # every expressive face now carries a share of neutral
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)

    data = make_pattern_dataset(tmp_path / "data", per_class=20)
    with pytest.raises(TrainingError, match="have none"):
        train(tiny_config(tmp_path / "a", data, weaken=0.5))
    for split in ("train", "test"):
        (data / split / "plain").rename(data / split / "neutral")
    assert train(tiny_config(tmp_path, data, epochs=1, weaken=0.5)).exists()
    assert parse_args(["--data", "x", "--weaken", "0.5"])[0].weaken == 0.5
    with pytest.raises(TrainingError, match="choose one"):
        train(tiny_config(tmp_path / "b", data, mixup_alpha=0.2, weaken=0.5))
    with pytest.raises(TrainingError, match="0 to 1"):
        train(tiny_config(tmp_path / "c", data, weaken=1.5))


def test_degrade_reaches_the_batches_and_a_run_trains_with_it(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (64, 24, 24, 1), dtype=np.uint8), rng.integers(0, 3, 64)
    still = AugmentConfig(flip=False, rotate_degrees=0, shift=0, zoom=0, erase_probability=0)
    faulty = AugmentConfig(**{**still.__dict__, "degrade_probability": 1.0})
    (clean, _), (degraded, _) = (AugmentedBatches(images, labels, 3, TrainConfig(data="x", batch_size=32, workers=1,
                                                                                augment=augment))[0][:2]
                                 for augment in (still, faulty))
    changed = [not np.array_equal(a, b) for a, b in zip(clean, degraded)]
    assert sum(changed) >= 30  # every face is given a fault (a flat or dark fault may leave one alone)

    data = make_pattern_dataset(tmp_path / "data", per_class=20)
    assert train(tiny_config(tmp_path, data, epochs=1, augment=faulty)).exists()
    assert parse_args(["--data", "x", "--degrade", "0.3"])[0].augment.degrade_probability == 0.3
    with pytest.raises(TrainingError, match="--degrade is the share"):
        train(tiny_config(tmp_path / "b", data, augment=AugmentConfig(degrade_probability=1.5)))


def test_each_head_of_a_shared_trunk_model_gets_its_own_loss():
    from training.losses import AdjustedCrossEntropy, BalancedAccuracy

    prior = [0.6, 0.3, 0.1]
    y_true = np.array([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0]], np.float32)
    ce_head = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]], np.float32)
    adjusted_head = np.array([[0.5, 0.4, 0.1], [0.1, 0.8, 0.1]], np.float32)
    both = np.concatenate([ce_head, adjusted_head], axis=1)
    each = [float(AdjustedCrossEntropy(prior, tau)(y_true, head)) for tau, head in ((0, ce_head), (0.5, adjusted_head))]
    assert float(AdjustedCrossEntropy(prior, 0, head_taus=[0, 0.5])(y_true, both)) == pytest.approx(np.mean(each))
    metric = BalancedAccuracy(3, heads=2)  # scores the heads' mean, what the app runs: both right here
    metric.update_state(y_true, both)
    assert float(metric.result()) == pytest.approx(1.0)


def test_a_shared_trunk_ensemble_trains_its_heads_and_saves_their_average(tmp_path):
    import keras

    data = make_pattern_dataset(tmp_path / "data", per_class=100)  # as test_train_evaluate_and_report's
    config = tiny_config(tmp_path, data, epochs=6, batch_size=8, learning_rate=3e-3, heads=2, branch_blocks=1,
                         head_logit_adjust=[0.0, 0.5])
    model_path = train(config)
    saved = keras.models.load_model(model_path, compile=False)
    names = [layer.name for layer in saved.layers]
    assert saved.output.shape[-1] == 3 and names[-1] == "probabilities"  # one output: the heads' mean
    assert "b0_conv0" in names and "b1_conv0" not in names  # block 0 shared, block 1 one per head
    assert {"h0_b1_conv0", "h1_b1_conv0", "h0_fc", "h1_fc"} <= set(names)
    assert not np.allclose(saved.get_layer("h0_fc").get_weights()[0], saved.get_layer("h1_fc").get_weights()[0])
    report = ModelReport.load(model_path)
    assert report.config["heads"] == 2 and report.metrics("test")["accuracy"] > 0.6, "easy classes"
    checkpoint = keras.models.load_model(Path(config.run_dir) / "best.keras")  # what --resume loads
    assert checkpoint.loss.head_taus == [0.0, 0.5] and checkpoint.output.shape[-1] == 6
    from fer.model_file import ModelFileError
    from training.prune import read_architecture

    with pytest.raises(ModelFileError, match="several heads is not pruned"):
        read_architecture(saved)

    # A one-head file starts every head (as --init does from a pruned network).
    from training.model import build_model
    from training.train import start_from

    one_head = tiny_config(tmp_path / "one", data, epochs=1)
    start = build_model((24, 24, 1), 3, width=4, blocks=2, dense_units=16, heads=2, branch_blocks=1)
    start_from(start, str(train(one_head)))
    source = keras.models.load_model(one_head.output, compile=False)
    for head in ("h0_", "h1_"):
        np.testing.assert_array_equal(start.get_layer(head + "fc").get_weights()[0],
                                      source.get_layer("fc").get_weights()[0])

    assert parse_args(["--data", "x", "--heads", "2", "--head-logit-adjust", "0,0.5"])[0].head_logit_adjust == [0, 0.5]
    with pytest.raises(TrainingError, match="one tau a head"):
        train(tiny_config(tmp_path / "b", data, heads=3, head_logit_adjust=[0.0, 0.5]))
    with pytest.raises(TrainingError, match="--branch-blocks 0 to"):
        train(tiny_config(tmp_path / "c", data, heads=2, branch_blocks=3))


def test_xla_compiles_the_whole_recipe_and_learns_as_without_it(tmp_path):
    """--xla: the custom loss (two heads, one logit-adjusted), both metrics and the moving average compile under
    XLA (Keras would quietly fall back to no XLA for a model it cannot compile: the checkpoint says which ran),
    and the run learns the easy classes as the same run without it does. XLA draws the dropout masks from
    another random stream, so the two runs are alike, not equal."""
    import keras

    data = make_pattern_dataset(tmp_path / "data", per_class=100)  # as the shared-trunk test's
    recipe = dict(epochs=6, batch_size=8, learning_rate=3e-3, ema=0.9, heads=2, branch_blocks=1,
                  head_logit_adjust=[0.0, 0.5])
    first_losses = {}
    for xla in (False, True):
        config = tiny_config(tmp_path / str(xla), data, xla=xla, **recipe)
        report = ModelReport.load(train(config))
        assert report.metrics("test")["accuracy"] > 0.6, "easy classes"
        assert report.config["xla"] is xla
        assert keras.models.load_model(Path(config.run_dir) / "checkpoint.keras").jit_compile is xla  # for --resume
        first_losses[xla] = report.history[0]["loss"]
    assert first_losses[True] == pytest.approx(first_losses[False], rel=0.1)

    # A run that began without XLA may go on with it (the setting says how the steps run, not what they learn).
    run_dir = tmp_path / "resumed" / "run"
    interrupted = killed_after_an_epoch(tiny_command(data, tmp_path / "resumed", 3, "--workers", "1"), run_dir)
    assert 1 <= interrupted["epoch"] < 3, "the run should have been killed part-way"
    config, _, given, _ = parse_args(["--resume", "--run-dir", str(run_dir), "--xla"])
    checkpoint = keras.models.load_model(run_dir / "checkpoint.keras")
    kept = [v.numpy().copy() for v in checkpoint.optimizer.variables]
    compile_for_training(checkpoint, checkpoint.optimizer, checkpoint.loss, config, num_classes=3)
    assert int(checkpoint.optimizer.iterations) > 0 and checkpoint.jit_compile is True
    for before, after in zip(kept, checkpoint.optimizer.variables, strict=True):  # its moments and average go on
        np.testing.assert_array_equal(before, after.numpy())
    train(config, resume=True, given=given)
    resumed = json.loads((run_dir / "state.json").read_text())
    assert resumed["epoch"] == 3 and resumed["config"]["xla"] is True  # a later --resume keeps it
    assert keras.models.load_model(run_dir / "checkpoint.keras").jit_compile is True


def test_a_run_that_leaves_xla_to_the_machine_records_and_compiles_the_choice(tmp_path):
    """No --xla or --no-xla: the run takes this machine's choice when it starts (on for TensorFlow on an x86-64
    CPU in float32, where it was measured faster; off in bfloat16, where it was twice as slow), saves it in its
    state and report and compiles the steps with it, so a resumed run goes on alike."""
    import keras

    assert parse_args(["--data", "x"])[0].xla is None
    assert parse_args(["--data", "x", "--no-xla"])[0].xla is False
    assert choose_xla(None, "mixed_bfloat16") is False
    assert choose_xla(True, "mixed_bfloat16") is True and choose_xla(False, "float32") is False
    expected = choose_xla(None, "float32")
    assert expected is (platform.machine().lower() in ("x86_64", "amd64"))  # this suite runs TensorFlow on a CPU

    data = make_pattern_dataset(tmp_path / "data", per_class=40)
    config = tiny_config(tmp_path / "auto", data, epochs=1, xla=None)
    report = ModelReport.load(train(config))
    assert report.config["xla"] is expected
    assert json.loads((Path(config.run_dir) / "state.json").read_text())["config"]["xla"] is expected
    assert keras.models.load_model(Path(config.run_dir) / "checkpoint.keras").jit_compile is expected
