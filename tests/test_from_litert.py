"""Rebuilding trainable Keras weights from a LiteRT file (`training.from_litert`), for networks whose
only copy is the file the app runs."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest

from fer.runtime import inspecting_interpreter
from tests.conftest import ROOT
from tests.test_prune import INFO, random_network
from tests.test_training import make_pattern_dataset
from training.ensemble import build_ensemble
from training.export_litert import export_litert
from training.from_litert import members_in, rebuilt

pytest.importorskip("ai_edge_litert")
# Reading a file back is a tool users run: LiteRT's "for debugging" warning about kept tensors is noise to them.
pytestmark = pytest.mark.filterwarnings("error::UserWarning")


def ramps(count: int, seed: int = 1) -> np.ndarray:
    """Grey ramps of several directions and levels: inputs whose features differ from face to face."""
    rng = np.random.default_rng(seed)
    grid = np.arange(24)
    images = [np.clip(level + slope * np.add.outer(grid * np.cos(a), grid * np.sin(a)), 0, 255)
              for level, slope, a in zip(rng.uniform(0, 128, count), rng.uniform(-8, 8, count),
                                         rng.uniform(0, 6.3, count))]
    return np.stack(images)[..., None].astype("float32")


def calibrated(model: keras.Model, faces: np.ndarray) -> keras.Model:
    """Random weights with batch-norm statistics measured on `faces`, as training leaves them: without
    them a random network's features hardly change from one face to the next."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            inputs = keras.Model(model.input, layer.input).predict(faces, verbose=0)
            inputs = inputs.reshape(-1, inputs.shape[-1])
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, inputs.mean(axis=0), inputs.var(axis=0)])
    return model


@pytest.fixture(scope="module")
def ensemble_files(tmp_path_factory):
    """Two random members averaged, as Keras and as its float32 and int8 LiteRT files."""
    folder = tmp_path_factory.mktemp("from_litert")
    members = [calibrated(random_network(seed=seed), ramps(64)) for seed in (1, 2)]
    ensemble = build_ensemble(members, "tiny")
    files = {weights: folder / f"tiny.{weights}.tflite" for weights in ("float32", "int8")}
    for weights, path in files.items():
        export_litert(ensemble, INFO, path, weights)
    return members, files


def features(model: keras.Model, faces: np.ndarray) -> np.ndarray:
    """fc_bn's output: before the softmax, which a random network saturates or flattens."""
    return keras.Model(model.input, model.get_layer("fc_bn").output).predict(faces, verbose=0)


@pytest.mark.parametrize("weights, tolerance", [("float32", 1e-4), ("int8", 0.03)])
def test_each_member_is_rebuilt_with_the_outputs_it_was_exported_with(ensemble_files, weights, tolerance):
    """int8 weights are read back through their scales; float32 ones must come back all but exactly."""
    members, files = ensemble_files
    interpreter = inspecting_interpreter(files[weights])
    found = members_in(interpreter)
    assert len(found) == 2 and found[0].blocks == 2 and len(found[0].convs) == 4
    faces = ramps(64)
    for original, member in zip(members, found, strict=True):
        model = rebuilt(member, INFO, faces)
        want = features(original, faces)
        assert want.std(axis=0).max() > 0.1 * np.abs(want).max(), "features differ between faces: this means something"
        np.testing.assert_allclose(features(model, faces), want, rtol=0, atol=tolerance * np.abs(want).max())
        np.testing.assert_allclose(model.predict(faces, verbose=0), original.predict(faces, verbose=0), rtol=0,
                                   atol=tolerance)


def test_batch_norms_give_the_same_output_on_a_training_batch_as_at_inference(ensemble_files):
    """Fine-tuning normalises with each batch's statistics: on the faces the statistics came from, every batch
    norm must give in training what it gives at inference, or training would start from another network."""
    _, files = ensemble_files
    faces = ramps(64)
    model = rebuilt(members_in(inspecting_interpreter(files["float32"]))[0], INFO, faces)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    inputs = keras.Model(model.input, [layer.input for layer in norms]).predict(faces, verbose=0)
    for layer, values in zip(norms, inputs, strict=True):  # one at a time: dropout acts between them in training
        inference = keras.ops.convert_to_numpy(layer(values, training=False))
        training = keras.ops.convert_to_numpy(layer(values, training=True))
        np.testing.assert_allclose(training, inference, rtol=0, atol=1e-3 * np.abs(inference).max(),
                                   err_msg=layer.name)


def test_command_line_writes_a_member_and_refuses_one_that_is_not_there(ensemble_files, tmp_path):
    _, files = ensemble_files
    data = make_pattern_dataset(tmp_path / "data", per_class=20)
    output = tmp_path / "member.keras"
    done = subprocess.run([sys.executable, "-m", "training.from_litert", str(files["int8"]), "--member", "1",
                           "--data", str(data), "--output", str(output)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "member 1 of 2" in done.stdout and output.is_file()
    assert keras.models.load_model(output, compile=False).get_layer("b0_conv0").filters == 4

    refused = subprocess.run([sys.executable, "-m", "training.from_litert", str(files["int8"]), "--member", "2",
                              "--data", str(data), "--output", str(tmp_path / "x.keras")], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--member must be 0 to 1" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "x.keras").exists()
