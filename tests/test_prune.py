"""Pruning a trained CNN to a narrower width, and fine-tuning the result with `training.train --init`."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from fer.model_file import ModelInfo, read_model_info
from tests.conftest import ROOT
from tests.test_training import make_pattern_dataset, tiny_config
from training.ensemble import build_ensemble
from training.model import build_model
from training.prune import pruned, read_architecture
from training.report import save_with_info
from training.train import TrainingError, train

INFO = ModelInfo("tiny", ("horizontal", "plain", "vertical"), (24, 24), 1)


def random_network(width: int = 4, seed: int = 0) -> keras.Model:
    """A build_model network with random weights and batch-norm statistics, as if trained."""
    model = build_model((24, 24, 1), 3, width=width, blocks=2, dense_units=8, name="tiny")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = [rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()]
        if isinstance(layer, keras.layers.BatchNormalization):
            values[3] = rng.uniform(0.5, 2.0, values[3].shape).astype("float32")  # variances are positive
        layer.set_weights(values)
    return model


def test_channels_that_carry_nothing_are_the_ones_dropped_and_outputs_do_not_move():
    """Half the channels of every layer get gamma 0: each is then a constant after its ReLU (0 where beta <= 0;
    relu(beta) > 0 in the last conv layer, whose constant the pruning folds into fc_bn's mean). Dropping exactly
    those must leave the probabilities as they were; a wrong choice of channels or a wrong fold changes them."""
    model = random_network(width=4)
    names = [layer.name for layer in model.layers if layer.name.endswith(("_bn0", "_bn1"))]
    for name in names:
        bn = model.get_layer(name)
        gamma, beta, mean, variance = bn.get_weights()
        idle = np.arange(len(gamma)) % 2 == 1
        gamma[idle] = 0.0
        beta[idle] = 0.7 if name == names[-1] else -0.3
        beta[~idle] = np.abs(beta[~idle]) + 0.5  # the others stay alive after their ReLU
        bn.set_weights([gamma, beta, mean, variance])
    rng = np.random.default_rng(1)  # ramps of other directions and levels: noise would average out in the pooling
    ramps = [np.clip(level + slope * np.add.outer(np.arange(24) * np.cos(a), np.arange(24) * np.sin(a)), 0, 255)
             for level, slope, a in zip(rng.uniform(0, 128, 6), rng.uniform(-8, 8, 6), rng.uniform(0, 6.3, 6))]
    images = np.stack(ramps)[..., None].astype("float32")

    narrow = pruned(model, width=2)

    arch = read_architecture(narrow)
    assert (arch.width, arch.blocks, arch.convs_per_block, arch.dense_units) == (2, 2, 2, 8)
    assert narrow.get_layer("b1_conv1").get_weights()[0].shape == (3, 3, 4, 4)
    assert narrow.count_params() < model.count_params()
    features = [keras.Model(m.input, m.get_layer("fc_bn").output).predict(images, verbose=0) for m in (narrow, model)]
    assert features[1].std(axis=0).max() > 1e-3, "the features differ between images: the check below means something"
    np.testing.assert_allclose(*features, rtol=0, atol=2e-5)  # before the softmax, which may saturate


def test_a_width_that_is_not_narrower_is_refused():
    with pytest.raises(ValueError, match="between 1 and 3"):
        pruned(random_network(width=4), width=4)


def test_prune_an_ensemble_member_then_fine_tune_it_with_init(tmp_path):
    """The command line takes one member out of an ensemble file and prunes it; `training.train --init`
    starts from those weights (a tiny learning rate leaves them in place), and refuses a file of another width."""
    ensemble = tmp_path / "ensemble.keras"
    save_with_info(build_ensemble([random_network(seed=1), random_network(seed=2)], "ensemble"), INFO, ensemble)
    narrow_path = tmp_path / "narrow.keras"
    out = subprocess.run([sys.executable, "-m", "training.prune", str(ensemble), "--member", "1", "--width", "2",
                          "--output", str(narrow_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "width 4 -> 2" in out.stdout
    assert read_model_info(narrow_path).class_names == INFO.class_names
    narrow = keras.models.load_model(narrow_path, compile=False)
    np.testing.assert_array_equal(narrow.get_layer("fc").get_weights()[0],
                                  pruned(random_network(seed=2), 2).get_layer("fc").get_weights()[0])

    refused = subprocess.run([sys.executable, "-m", "training.prune", str(ensemble), "--member", "2", "--width", "2",
                              "--output", str(tmp_path / "x.keras")], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert refused.returncode == 2 and "--member must be 0 to 1" in refused.stderr and "Traceback" not in refused.stderr

    data = make_pattern_dataset(tmp_path / "data", per_class=20)
    output = train(tiny_config(tmp_path / "tuned", data, epochs=1, width=2, dense_units=8, warmup_epochs=0,
                               learning_rate=1e-9, init=str(narrow_path)))
    tuned = keras.models.load_model(output, compile=False)
    for layer in ("b0_conv0", "b1_conv1", "fc", "probabilities"):
        np.testing.assert_allclose(tuned.get_layer(layer).get_weights()[0], narrow.get_layer(layer).get_weights()[0],
                                   atol=1e-6)
    with pytest.raises(TrainingError, match=r"--init .* same layers"):
        train(tiny_config(tmp_path / "wrong", data, epochs=1, width=3, dense_units=8, init=str(narrow_path)))
