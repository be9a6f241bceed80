"""Stochastic weight averaging: epochs kept by `training.train --keep-epochs`, averaged by
`training.average_weights` into a model the app and the benchmarks read like any other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer.model_file import read_model_info
from tests.conftest import ROOT
from tests.test_training import CLASSES, make_pattern_dataset, tiny_config
from training.augment import AugmentConfig
from training.average_weights import MEASURING, average_run, kept_epochs, measure_batch_norm
from training.config import TrainConfig
from training.train import TrainingError, train


def test_kept_epochs_average_into_a_model_with_its_report(tmp_path):
    """A constant-rate run keeps each epoch's weights; the averaged model holds their mean (from --first-epoch
    on), its batch-norm statistics measured again, and a report that says which epochs it averaged."""
    import keras

    data = make_pattern_dataset(tmp_path / "data", per_class=40)
    config = tiny_config(tmp_path, data, epochs=3, schedule="constant", warmup_epochs=0, keep_epochs=True,
                         learning_rate=3e-3)
    train(config)
    run_dir = Path(config.run_dir)
    state = json.loads((run_dir / "state.json").read_text())
    assert [record["learning_rate"] for record in state["history"]] == pytest.approx([3e-3] * 3)
    kept = kept_epochs(run_dir, state["epoch"])
    assert list(kept) == [1, 2, 3]

    model = keras.models.load_model(run_dir / "checkpoint.keras", compile=False)
    epochs = []
    for path in kept.values():
        model.load_weights(path)
        epochs.append([v.numpy() for v in model.trainable_variables])
    last_statistics = [v.numpy() for v in model.non_trainable_variables if "moving" in v.path]

    output = average_run(run_dir, tmp_path / "out" / "averaged.keras", first_epoch=2)
    averaged = keras.models.load_model(output, compile=False)
    for got, *kept_values in zip([v.numpy() for v in averaged.trainable_variables], *epochs[1:], strict=True):
        np.testing.assert_allclose(got, np.mean(kept_values, axis=0), rtol=1e-5, atol=1e-6)
    assert any(np.abs(a - b).max() > 1e-4 for a, b in zip(epochs[1], epochs[2]))  # two different epochs
    measured = [v.numpy() for v in averaged.non_trainable_variables if "moving" in v.path]
    assert len(measured) == len(last_statistics) > 0
    assert any(np.abs(a - b).max() > 1e-4 for a, b in zip(measured, last_statistics))
    assert read_model_info(output).class_names == tuple(sorted(CLASSES))
    report = json.loads(output.with_suffix(".json").read_text())
    assert report["training"]["averaged_epochs"] == [2, 3]
    assert report["training"]["selection"].startswith("mean of the weights at the end of epochs 2-3")
    assert report["evaluation"]["test"]["none"]["accuracy"] > 0.6  # three easy classes: it still reads them


def test_batch_norm_statistics_are_the_plain_mean_over_the_faces():
    """Each batch weighs the same: with equal batches the moving mean is the mean over every face, and the
    moving variance the mean of the batches' variances; the layer's own momentum is given back."""
    import keras

    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.BatchNormalization(momentum=0.99)])
    images = np.random.default_rng(0).integers(0, 256, (40, 6, 6, 1)).astype(np.uint8)
    still = AugmentConfig(flip=False, rotate_degrees=0, shift=0, zoom=0, erase_probability=0)
    batches = measure_batch_norm(model, images, TrainConfig(data="x", augment=still), batch_size=10)
    layer = model.layers[0]
    assert batches == 4 and layer.momentum == 0.99
    order = np.random.default_rng([42, MEASURING]).permutation(40)
    pixels = images[order].astype(np.float64).reshape(4, -1)
    np.testing.assert_allclose(layer.moving_mean.numpy(), [pixels.mean()], rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), [pixels.var(axis=1).mean()], rtol=1e-4)


def test_every_batch_norm_layer_of_the_trained_network_is_measured_again():
    """The network `training.train` builds (shared trunk and heads too): no batch-norm layer keeps any of
    the statistics it had (a far-off mean would linger at momentum 0.99), and each gets its momentum back."""
    from training.model import build_model

    model = build_model((12, 12, 1), 3, width=4, blocks=2, dense_units=8, heads=2)
    norms = [layer for layer in model.layers if "bn" in layer.name]
    assert len(norms) == 2 + 2 * (2 + 1)  # the shared block's two convs; each head: its block's two, fc_bn
    for layer in norms:
        layer.moving_mean.assign(np.full(layer.moving_mean.shape, 1e6, np.float32))
    images = np.random.default_rng(1).integers(0, 256, (20, 12, 12, 1)).astype(np.uint8)
    measure_batch_norm(model, images, TrainConfig(data="x"), batch_size=10)
    for layer in norms:
        assert layer.momentum == 0.99
        assert np.abs(layer.moving_mean.numpy()).max() < 1e3, layer.name


def test_a_run_without_kept_epochs_is_refused_in_one_line(tmp_path):
    data = make_pattern_dataset(tmp_path / "data", per_class=10)
    config = tiny_config(tmp_path, data, epochs=1)
    train(config)
    with pytest.raises(TrainingError, match="--keep-epochs"):
        average_run(Path(config.run_dir), tmp_path / "a.keras")
    out = subprocess.run([sys.executable, "-m", "training.average_weights", "--run-dir", str(tmp_path / "nothing"),
                          "--output", str(tmp_path / "b.keras")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "holds no run" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "a.keras").exists() and not (tmp_path / "b.keras").exists()
