"""Average the weights a run kept at the end of each epoch into one model (stochastic weight averaging, SWA):
`python -m training.average_weights --run-dir DIR [--first-epoch N] --output NAME.keras`.

Weights visited at a constant learning rate (`training.train --schedule constant --keep-epochs`) circle a
wide, low region of the loss; their mean lies nearer its middle, where new faces tend to be read better
than by any one epoch (Izmailov et al. 2018). Batch normalisation's statistics belong to the weights that
gave them, so they are measured again for the mean, over the training faces augmented as the run saw them.
The result is exported like a run's best epoch (model file with its output correction, report, `.tflite`
copy); nothing is chosen on validation but `--first-epoch`, which you choose before looking.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from fer.model_file import ModelFileError
from training.augment import augment_batch
from training.config import TrainConfig
from training.data import DatasetError
from training.report import export_model
from training.train import (
    CHECKPOINT,
    EPOCHS,
    STATE,
    TrainingError,
    epoch_weights_path,
    hardware_description,
    learning_splits,
    prepared_dataset,
)

MEASURING = 2**32 - 1  # the random stream of the pass that measures batch norm: no epoch's (seed, epoch) stream


def kept_epochs(run_dir: Path, last_epoch: int) -> dict[int, Path]:
    """The epochs up to the run's `last_epoch` whose weights it kept (`--keep-epochs`), by number; a file
    written after the run's state (a kill in between) belongs to an epoch the run will train again."""
    paths = {epoch: epoch_weights_path(run_dir, epoch) for epoch in range(1, last_epoch + 1)}
    return {epoch: path for epoch, path in paths.items() if path.exists()}


def mean_weights(model: keras.Model, paths: list[Path]) -> list[np.ndarray]:
    """The mean of each trainable weight over the weight files (each loaded into `model`, which ends holding
    the last). Batch-norm statistics and dropout seeds are not trainable: they are measured, not averaged."""
    total = None
    for path in paths:
        model.load_weights(path)
        values = [np.asarray(v.numpy(), np.float64) for v in model.trainable_variables]
        total = values if total is None else [t + v for t, v in zip(total, values)]
    return [t / len(paths) for t in total]


def measure_batch_norm(model: keras.Model, images: np.ndarray, config: TrainConfig, batch_size: int = 128) -> int:
    """Every batch-norm layer's moving mean and variance, measured again as the plain mean over one pass of
    `images` (augmented as training augments them, dropout on, as in training): each batch's momentum is
    n / (n + 1), so batch n weighs what the others do. Returns the number of batches."""
    # A run's network is one flat functional model (training.model), so its own layers are all there are.
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    order = np.random.default_rng([config.seed, MEASURING]).permutation(len(images))
    batches = range(0, len(images), batch_size)
    try:
        for n, start in enumerate(batches):
            for layer in norms:
                layer.momentum = n / (n + 1)
            rng = np.random.default_rng([config.seed, MEASURING, n])
            x = augment_batch(images[order[start:start + batch_size]], rng, config.augment).astype(np.float32)
            model(x, training=True)
    finally:
        for layer, momentum in zip(norms, momenta):
            layer.momentum = momentum
    return len(batches)


def average_run(run_dir: Path, output: Path, first_epoch: int = 1, data: str | None = None) -> Path:
    """Export the mean of the kept epochs from `first_epoch` on as `output` (+ report); returns its path."""
    state_path = run_dir / STATE
    if not state_path.exists():
        raise TrainingError(f"{run_dir} holds no run (looked for {STATE})")
    state = json.loads(state_path.read_text())
    config = TrainConfig.from_json({**state["config"], "output": str(output), "run_dir": str(run_dir),
                                    **({"data": data} if data else {})})
    kept = {epoch: path for epoch, path in kept_epochs(run_dir, state["epoch"]).items() if epoch >= first_epoch}
    if len(kept) < 2:
        raise TrainingError(f"{run_dir}/{EPOCHS} keeps {len(kept)} epoch(s) from epoch {first_epoch} on; averaging "
                            "needs two or more: train with --keep-epochs (and --schedule constant)")
    dataset, fingerprint = prepared_dataset(config)
    if fingerprint != state["dataset_fingerprint"]:
        raise TrainingError("the dataset differs from the one this run was trained on")
    train_split, _, targets = learning_splits(dataset, config)
    model = keras.models.load_model(run_dir / CHECKPOINT, compile=False)
    for variable, value in zip(model.trainable_variables, mean_weights(model, list(kept.values()))):
        variable.assign(value.astype(variable.dtype))
    batches = measure_batch_norm(model, train_split.images, config)
    print(f"averaged epochs {min(kept)}-{max(kept)} of {run_dir}; batch-norm statistics over {batches} batches of "
          "training faces", flush=True)
    with tempfile.TemporaryDirectory(prefix="fer-average-") as folder:  # its own: two averagings never meet
        averaged = Path(folder) / "averaged.keras"
        model.save(averaged)
        return export_model(config, state, dataset, averaged, hardware_description(), targets.mean(axis=0),
                            averaged_epochs=list(kept))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.average_weights", description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a run trained with --keep-epochs")
    parser.add_argument("--output", type=Path, required=True, help="the averaged .keras model (+ .json report)")
    parser.add_argument("--first-epoch", type=int, default=1, help="average the kept epochs from this one on")
    parser.add_argument("--data", default=None, help="the run's data, where it is elsewhere now")
    args = parser.parse_args(argv)
    try:
        path = average_run(args.run_dir, args.output, args.first_epoch, args.data)
    except (DatasetError, ModelFileError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
