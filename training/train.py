"""Train the emotion CNN: `python -m training.train --data PATH [options]`.

Checkpoints every epoch into a run folder and `--resume` continues from the last one with the
same batches, augmentations, dropout masks and learning rates an uninterrupted run would have used.
The best epoch on the validation split (PublicTest for FER2013) is kept; the test split is only
evaluated once, at the end, for the report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import signal
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import keras
import numpy as np

from fer.atomic import staged_path, write_text_atomic
from fer.model_file import ModelFileError
from training.augment import AugmentConfig
from training.batches import AugmentedBatches
from training.config import TrainConfig, selection_keys
from training.data import TRAIN, VAL, Dataset, DatasetError, Split, load_dataset
from training.distill import BatchTeacher, blended_targets, teacher_probabilities
from training.ferplus import join_votes
from training.losses import AdjustedCrossEntropy, BalancedAccuracy, HeadsAccuracy
from training.model import build_model
from training.report import export_model

CHECKPOINT = "checkpoint.keras"
BEST = "best.keras"
STATE = "state.json"
EPOCHS = "epochs"  # with --keep-epochs: every epoch's weights, for training.average_weights


def epoch_weights_path(run_dir: Path, epoch: int) -> Path:
    """Where --keep-epochs puts the weights the model held at the end of `epoch` (counted from 1)."""
    return run_dir / EPOCHS / f"epoch_{epoch:03d}.weights.h5"


class TrainingError(Exception):
    """A run that cannot start or continue as asked (a resume that does not match, a folder already in
    use, an --init file that does not fit); `main` turns it into one line and exit status 2."""


class CtrlC:
    """Ctrl+C during training, made certain. Python raises KeyboardInterrupt wherever the main thread is,
    and where that is code called back from C (a finaliser, a TensorFlow hook) the exception is printed
    and dropped, and training went on to the end (exit 0, seen once in CI). So the press is also noted
    here, and the next batch that ends raises it again (EpochKeeper)."""

    pressed = False

    @classmethod
    def handle(cls, signum, frame) -> None:
        cls.pressed = True
        raise KeyboardInterrupt

    @classmethod
    def raise_if_pressed(cls) -> None:
        if cls.pressed:
            raise KeyboardInterrupt


class AveragedWeightsBetweenEpochs(keras.callbacks.SwapEMAWeights):
    """Keras's swap of the weights and their moving average, holding the average in the model from each
    epoch's end to the next one's start: validation, checkpoints and the best model are the averaged
    weights, training goes on with its own. A resumed run's checkpoint holds the average, so its first
    epoch starts by swapping back. The average begins at `start_epoch` (the end of the warm-up) from the
    weights reached then, restarting until then: averaged with the random start, a network scored at
    chance for epochs (its batch normalisation's statistics are the trained weights', not the average's)."""

    def __init__(self, resumed: bool, start_epoch: int):
        super().__init__(swap_on_epoch=True)
        self._ema_weights_in_model = resumed
        self.start_epoch = start_epoch

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)  # the model holds its own weights again
        if epoch <= self.start_epoch and self.model.optimizer.built:  # (unbuilt, its first step starts it)
            self._finalize_ema_values()  # Keras's name for: the average := the weights

    def _backend_finalize_ema_values(self, optimizer):
        """Keras's own (JAX, torch) assigns each weight itself to its average: under JAX both variables then
        hold one buffer, which the next training step donates twice and fails. A copy keeps them apart."""
        for var, average in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average):
            average.assign(keras.ops.convert_to_numpy(var))


class EpochKeeper(keras.callbacks.Callback):
    """Per-epoch bookkeeping: learning rate, reseeding, history, checkpoints, early stopping."""

    def __init__(self, config: TrainConfig, run_dir: Path, batches: AugmentedBatches, state: dict):
        super().__init__()
        self.config, self.run_dir, self.batches, self.state = config, run_dir, batches, state
        self.epoch_start = 0.0

    def on_train_batch_end(self, batch, logs=None):
        CtrlC.raise_if_pressed()

    def on_test_batch_end(self, batch, logs=None):
        CtrlC.raise_if_pressed()

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
        self.model.optimizer.learning_rate.assign(learning_rate_for(epoch, self.config, self.state))
        reseed(self.model, self.config.seed, epoch)
        self.epoch_start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = time.time() - self.epoch_start
        record = {
            "epoch": epoch + 1,
            "loss": float(logs["loss"]),
            "accuracy": float(logs["accuracy"]),
            "val_loss": float(logs["val_loss"]),
            "val_accuracy": float(logs["val_accuracy"]),
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
            "seconds": round(seconds, 2),
        }
        if "val_balanced_accuracy" in logs:
            record["balanced_accuracy"] = float(logs["balanced_accuracy"])
            record["val_balanced_accuracy"] = float(logs["val_balanced_accuracy"])
        state = self.state
        state["history"].append(record)
        state["epoch"] = epoch + 1
        state["train_seconds"] += seconds
        score = [record[key] for key in selection_keys(self.config)]
        improved = score > state.get("best_val_score", [-1.0])
        if improved:
            state["best_val_accuracy"], state["best_epoch"] = record["val_accuracy"], epoch + 1
            state["best_val_score"] = score
            state["epochs_without_improvement"] = 0
        else:
            state["epochs_without_improvement"] += 1
        if self.config.schedule == "plateau" and (
            state["epochs_without_improvement"] > 0
            and state["epochs_without_improvement"] % self.config.plateau_patience == 0
        ):
            state["lr_scale"] *= 0.5
        if state["epochs_without_improvement"] >= self.config.patience:
            state["stopped_early"] = True
            self.model.stop_training = True
        # Checkpoint first, then the state that points at it: a crash in between only repeats an epoch.
        save_atomic(self.model, self.run_dir / CHECKPOINT)
        if self.config.keep_epochs:
            with staged_path(epoch_weights_path(self.run_dir, epoch + 1)) as staged:
                self.model.save_weights(staged)
        if improved:
            copy_atomic(self.run_dir / CHECKPOINT, self.run_dir / BEST)
        write_text_atomic(self.run_dir / STATE, json.dumps(state, indent=1))
        print(
            f"epoch {epoch + 1}/{self.config.epochs}: loss {record['loss']:.4f} acc {record['accuracy']:.4f} "
            f"val_loss {record['val_loss']:.4f} val_acc {record['val_accuracy']:.4f} "
            + (f"val_bal {record['val_balanced_accuracy']:.4f} " if "val_balanced_accuracy" in record else "")
            + f"lr {record['learning_rate']:.2e} ({seconds:.0f}s)",
            flush=True,
        )


def learning_rate_for(epoch: int, config: TrainConfig, state: dict) -> float:
    """Linear warm-up, then cosine decay to zero: a function of the epoch alone. With the plateau schedule,
    the epoch and the plateau scale in `state` (saved with every checkpoint, so a resumed run agrees)."""
    base = config.learning_rate
    if epoch < config.warmup_epochs:
        return base * (epoch + 1) / (config.warmup_epochs + 1)
    if config.schedule == "plateau":
        return base * state["lr_scale"]
    if config.schedule == "constant":
        return base
    progress = (epoch - config.warmup_epochs) / max(1, config.epochs - config.warmup_epochs)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def reseed(model: keras.Model, seed: int, epoch: int) -> None:
    """Give every dropout layer's random stream a state that depends only on (seed, epoch, layer)."""
    generators = [v for v in model.variables if "seed_generator_state" in v.path]
    for i, variable in enumerate(generators):
        value = np.random.default_rng([seed, epoch, i]).integers(0, 2**30, size=2)
        variable.assign(value.astype(variable.dtype))


def sample_weights_for(split: Split, class_names: list[str], config: TrainConfig) -> np.ndarray | None:
    """Each training face's weight in the loss (mean 1), or None for all equal: its class's weight, times
    `subtle_weight` for a subtle expression (one that some of its raters saw as neutral), the kind of face
    whose anger or sadness other sets show read as neutral."""
    class_weights = class_weights_for(split.labels, len(class_names), config.class_weights)
    weights = None if class_weights is None else class_weights[split.labels]
    if config.subtle_weight == 1.0:
        return weights
    if config.subtle_weight <= 0:
        raise TrainingError(f"--subtle-weight must be above 0, not {config.subtle_weight}")
    if split.votes is None or "neutral" not in class_names:
        raise TrainingError("--subtle-weight needs the FER+ votes and a neutral class (--labels ferplus)")
    weights = np.ones(len(split), np.float32) if weights is None else weights
    weights = np.where(split.votes.subtle(class_names.index("neutral")), weights * config.subtle_weight, weights)
    return (weights / weights.mean()).astype(np.float32)


def class_weights_for(labels: np.ndarray, num_classes: int, mode: str) -> np.ndarray | None:
    if mode == "none":
        return None
    counts = np.maximum(np.bincount(labels, minlength=num_classes), 1).astype(np.float64)
    weights = counts.sum() / (num_classes * counts)
    if mode == "sqrt":
        weights = np.sqrt(weights)
    elif mode != "balanced":
        raise ValueError(f"class weights must be none, balanced or sqrt, not {mode!r}")
    return (weights / weights[labels].mean()).astype(np.float32)


def choose_precision(requested: str) -> str:
    if requested != "auto":
        return requested
    if keras.backend.backend() == "jax":
        import jax

        return "mixed_bfloat16" if jax.devices()[0].platform == "gpu" else "float32"
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return "mixed_bfloat16" if ("amx_bf16" in flags or "avx512_bf16" in flags) else "float32"


def choose_xla(requested: bool | None, precision: str) -> bool:
    """XLA for a run that leaves it to the machine: on where it was measured faster, TensorFlow on an x86-64 CPU
    in float32 (28-35% less time an epoch on real recipes on 2-core AVX2 EPYCs); off in bfloat16, which XLA's CPU
    path made twice as slow, and wherever Keras already decides (a GPU, JAX)."""
    if requested is not None:
        return requested
    if keras.backend.backend() != "tensorflow" or precision != "float32":
        return False
    import tensorflow as tf

    return platform.machine().lower() in ("x86_64", "amd64") and not tf.config.list_physical_devices("GPU")


def hardware_description() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count()}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    info["keras_backend"] = keras.backend.backend()
    info["keras"] = keras.__version__
    if keras.backend.backend() == "jax":
        import jax

        info["devices"] = [str(d) for d in jax.devices()]
    return info


def copy_atomic(source: Path, target: Path) -> None:
    """The best epoch's file as a copy of the checkpoint just written: serialising the model again takes
    several times as long (`benchmarks/input_pipeline.py`)."""
    with staged_path(target) as staged:
        shutil.copyfile(source, staged)


def save_atomic(model: keras.Model, path: Path) -> None:
    """A kill mid-save leaves the previous checkpoint intact."""
    with staged_path(path) as staged:
        model.save(staged)


def train(config: TrainConfig, *, resume: bool = False, dataset: Dataset | None = None,
          given: dict[str, str] | None = None, finish: bool = False) -> Path:
    """Run (or resume) training and export the best model plus its report; returns the model path.
    `given` maps the settings named on the command line to their flags: a resumed run refuses any of
    them that differs from the run's own, rather than ignoring it. `finish` (with `resume`) exports the
    best epoch so far without training more: a run stopped at a deadline still gives a model file."""
    run_dir = Path(config.run_dir)
    state_path = run_dir / STATE
    state = None
    if resume:
        if not state_path.exists():
            raise TrainingError(f"--resume: no checkpoint in {run_dir} (looked for {STATE})")
        state = json.loads(state_path.read_text())
        saved = dict(state["config"])
        changed = settings_changed_on_resume(config, saved, given or {})
        if changed:
            raise TrainingError(f"--resume continues {run_dir} with the settings it began with, and these differ: "
                             f"{', '.join(changed)}. Leave them out, or start a new run with another --run-dir.")
        if config.data:  # the same data found elsewhere (another machine): its fingerprint is checked below
            saved["data"] = config.data
        if "output" in (given or {}):
            saved["output"] = config.output
        saved["run_dir"], saved["workers"] = config.run_dir, config.workers  # where it was found; this machine's cores
        if "xla" in (given or {}):  # how this machine runs the steps, not what they learn; kept for later resumes
            saved["xla"] = state["config"]["xla"] = config.xla
        config = TrainConfig.from_json(saved)
        print(f"{'finishing' if finish else 'resuming'} {run_dir} after epoch {state['epoch']}", flush=True)
    elif finish:
        raise TrainingError("--finish exports a run that was stopped: it needs --resume and the run's --run-dir")
    elif state_path.exists():
        raise TrainingError(f"{run_dir} already holds a run: pass --resume to continue it or choose --run-dir")

    previous_policy = keras.mixed_precision.global_policy()
    try:
        return _train(config, state, run_dir, dataset, finish)
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)


# What a resumed run may change: where the data, the run and the result are, how many threads prepare
# batches (the batches do not depend on it), and XLA (turned on for a run that began without it).
RESUME_OVERRIDES = frozenset({"data", "output", "run_dir", "workers", "xla"})


def settings_changed_on_resume(config: TrainConfig, saved: dict, given: dict[str, str]) -> list[str]:
    """'--flag value (the run's: value)' for each setting given on the command line that differs from the
    saved run's. Changing one mid-run (the epochs behind the cosine schedule, say) would not continue it."""
    changed = []
    for dest, flag in sorted(given.items()):
        if dest in RESUME_OVERRIDES:
            continue
        if dest in AugmentConfig.__dataclass_fields__:
            mine, theirs = getattr(config.augment, dest), saved["augment"][dest]
        else:
            mine, theirs = getattr(config, dest), saved.get(dest)
        if mine != theirs:
            changed.append(f"{flag} {mine} (the run's: {theirs})")
    return changed


def _train(config: TrainConfig, state: dict | None, run_dir: Path, dataset: Dataset | None,
           finish: bool = False) -> Path:

    resume = state is not None
    if not 0.0 <= config.ema < 1.0:
        raise TrainingError(f"--ema must be at least 0 and below 1, not {config.ema}")
    if config.mixup_alpha < 0 or config.cutmix_alpha < 0:
        raise TrainingError("--mixup and --cutmix take the alpha of a Beta distribution: 0 (off) or above")
    if (config.mixup_alpha > 0) + (config.cutmix_alpha > 0) + (config.weaken > 0) > 1:
        raise TrainingError("--mixup, --cutmix and --weaken each mix faces of a batch: choose one")
    if not 0.0 <= config.augment.degrade_probability <= 1.0:
        raise TrainingError(f"--degrade is the share of faces given a fault of photos and cameras: 0 to 1, "
                            f"not {config.augment.degrade_probability}")
    if config.consistent_teacher and not config.teacher:
        raise TrainingError("--consistent-teacher says how the --teacher reads the batches: "
                            "give a --teacher model file")
    if not 0.0 <= config.weaken <= 1.0:
        raise TrainingError(f"--weaken is the share of expressive faces blended towards neutral: 0 to 1, "
                            f"not {config.weaken}")
    if config.heads < 1 or not 0 <= config.branch_blocks <= config.blocks:
        raise TrainingError(f"--heads takes 1 or more and --branch-blocks 0 to --blocks ({config.blocks}), "
                            f"not {config.heads} and {config.branch_blocks}")
    if config.head_logit_adjust is not None and len(config.head_logit_adjust) != config.heads:
        raise TrainingError(f"--head-logit-adjust gives one tau a head: {config.heads} for --heads {config.heads}, "
                            f"not {len(config.head_logit_adjust)}")
    # Batches are prepared in parallel by the workers; OpenCV's own thread pool, started for every warp
    # of a 48 px image, only adds overhead (and oversubscribes a many-core host next to the accelerator).
    cv2.setNumThreads(1)
    keras.utils.set_random_seed(config.seed)
    precision = choose_precision(config.precision)
    keras.mixed_precision.set_global_policy(precision)
    config = replace(config, xla=choose_xla(config.xla, precision))  # saved resolved: a resumed run goes on alike
    dataset, fingerprint = prepared_dataset(config, dataset)
    num_classes = len(dataset.class_names)
    print(f"data: {dataset.source}; classes {dataset.class_names}; "
          + ", ".join(f"{k} {len(v)}" for k, v in dataset.splits.items()), flush=True)
    train_split, val_split, targets = learning_splits(dataset, config)
    prior = targets.mean(axis=0)
    if resume and state["dataset_fingerprint"] != fingerprint:
        raise TrainingError("--resume: the dataset differs from the one this run started with")
    if finish:  # the best epoch is on disk: no teacher, batches or checkpoint are needed to export it
        return export_model(config, state, dataset, run_dir / BEST, hardware_description(), prior)
    weights = sample_weights_for(train_split, list(dataset.class_names), config)
    batch_teacher = None
    if config.teacher and config.consistent_teacher:
        batch_teacher = BatchTeacher(config.teacher, list(dataset.class_names), train_split.images.shape[1:],
                                     config.distill_weight, config.temperature)
    elif config.teacher:
        teacher = teacher_probabilities(config.teacher, train_split.images, dataset.class_names, run_dir)
        targets = blended_targets(targets, teacher, config.distill_weight, config.temperature)
    neutral = None
    if config.weaken > 0:
        if "neutral" not in dataset.class_names:
            raise TrainingError(f"--weaken blends faces towards neutral, and the classes {dataset.class_names} "
                                "have none")
        neutral = list(dataset.class_names).index("neutral")
    batches = AugmentedBatches(train_split.images, train_split.labels, num_classes, config, weights, targets,
                               neutral, batch_teacher)
    val_data = (val_split.images.astype(np.float32), keras.utils.to_categorical(val_split.labels, num_classes))

    if resume:
        model = keras.models.load_model(run_dir / CHECKPOINT)
        # Compiled again, XLA or not as the run now asks: the same optimizer, its state and loss go on.
        compile_for_training(model, model.optimizer, model.loss, config, num_classes)
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "config": asdict(config), "precision": precision, "epoch": 0, "history": [],
            "best_val_accuracy": -1.0, "best_epoch": 0, "epochs_without_improvement": 0,
            "lr_scale": 1.0, "train_seconds": 0.0, "stopped_early": False,
            "dataset_fingerprint": fingerprint,
        }
        model = build_model(
            (*dataset.image_size, dataset.channels), num_classes, width=config.width, blocks=config.blocks,
            convs_per_block=config.convs_per_block, dense_units=config.dense_units, dropout=config.dropout,
            heads=config.heads, branch_blocks=config.branch_blocks, name=config.name,
        )
        if config.init:
            start_from(model, config.init)
        compile_for_training(
            model,
            keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay,
                                   use_ema=config.ema > 0, ema_momentum=config.ema or 0.99),
            AdjustedCrossEntropy(prior, config.logit_adjust, config.label_smoothing, config.head_logit_adjust),
            config, num_classes,
        )
    done = state["epoch"] >= config.epochs or state.get("stopped_early")
    if not done:
        callbacks = [EpochKeeper(config, run_dir, batches, state)]
        if config.ema:  # first: the average is in the model before the keeper saves it
            callbacks.insert(0, AveragedWeightsBetweenEpochs(resumed=resume, start_epoch=config.warmup_epochs))
        model.fit(
            batches, validation_data=val_data, epochs=config.epochs, shuffle=False,  # batches shuffle themselves
            initial_epoch=state["epoch"], callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 0,
        )
    return export_model(config, state, dataset, run_dir / BEST, hardware_description(), prior)


def compile_for_training(model: keras.Model, optimizer: keras.optimizers.Optimizer, loss: keras.losses.Loss,
                         config: TrainConfig, num_classes: int) -> None:
    """Compile with the run's metrics, and with XLA where the run asks for it (`--xla`, or `choose_xla`'s choice;
    Keras's own otherwise: on with a GPU or JAX)."""
    model.compile(optimizer=optimizer, loss=loss,
                  metrics=[HeadsAccuracy(config.heads), BalancedAccuracy(num_classes, config.heads)],
                  jit_compile=True if config.xla else "auto")


def prepared_dataset(config: TrainConfig, dataset: Dataset | None = None) -> tuple[Dataset, str]:
    """The run's faces (loaded unless given) with the FER+ votes joined, and the fingerprint a resumed run
    must match: a FER+ run's covers the votes too, since they are its targets."""
    dataset = dataset or load_dataset(
        config.data, image_size=config.image_size, color=config.color,
        val_fraction=config.val_fraction, seed=config.seed,
    )
    fingerprint = dataset.fingerprint() if config.labels == "fer2013" else None
    dataset = with_votes(dataset, config)
    return dataset, fingerprint or dataset.fingerprint()


def with_votes(dataset: Dataset, config: TrainConfig) -> Dataset:
    """The dataset with its FER+ votes joined, so the report scores both label sets: required with
    `--labels ferplus`, otherwise joined when the votes file is found."""
    if config.labels not in ("fer2013", "ferplus"):
        raise DatasetError(f"labels must be fer2013 or ferplus, not {config.labels!r}")
    return join_votes(dataset, config.data, config.votes, required=config.labels == "ferplus")


def learning_splits(dataset: Dataset, config: TrainConfig) -> tuple[Split, Split, np.ndarray]:
    """The training and validation faces and each training face's target distribution.

    FER2013 labels: every face, one-hot targets. FER+: training faces with emotion votes (not mostly
    "unknown" or "not a face"), their vote distributions as targets; validation faces with a clear
    7-class majority, labelled by it. `labels` of the training split is each target's arg-max, for class
    weights and the running accuracy."""
    train_split, val_split = dataset.splits[TRAIN], dataset.splits[VAL]
    if config.labels == "ferplus":
        train_split = train_split.subset(np.flatnonzero(train_split.votes.trainable))
        val_split = val_split.subset(np.flatnonzero(val_split.votes.clear))
        val_split.labels = val_split.votes.majority
    if config.max_train_samples:
        keep = np.random.default_rng(config.seed).permutation(len(train_split))[: config.max_train_samples]
        train_split = train_split.subset(np.sort(keep))
    if config.labels == "ferplus":
        targets = train_split.votes.distributions()
        train_split.labels = targets.argmax(axis=1)
    else:
        targets = np.eye(len(dataset.class_names), dtype=np.float32)[train_split.labels]
    return train_split, val_split, targets


HEAD_PREFIX = re.compile(r"^h\d+_")  # a shared-trunk model's head layers: h0_fc, h1_b3_conv0, ...


def start_from(model: keras.Model, path: str) -> None:
    """Copy every layer's weights from the model in `path`, which must have the same layers and shapes:
    fine-tuning a pruned network (training.prune) instead of training one from scratch. Each head of a
    shared-trunk model (`h0_fc`, ...) starts from the same layer of a one-head model (`fc`) where the file
    has no heads of its own."""
    try:
        source = keras.models.load_model(path, compile=False)
        names = {layer.name for layer in source.layers}
        for layer in (layer for layer in model.layers if layer.weights):
            name = layer.name if layer.name in names else HEAD_PREFIX.sub("", layer.name)
            layer.set_weights(source.get_layer(name).get_weights())
    except (OSError, ValueError) as err:  # a missing file, another architecture or width
        raise TrainingError(f"--init {path}: cannot start from it ({err}); it must be a .keras file with the same "
                         "layers as this run (its --width, --blocks, --dense-units)") from err
    print(f"starting from the weights of {path}", flush=True)


def taus(text: str) -> list[float]:
    """'0,0.5' -> [0.0, 0.5], for --head-logit-adjust."""
    try:
        return [float(value) for value in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated numbers, one a head, not {text!r}") from None


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, bool, dict[str, str], bool]:
    """The run's settings, whether to resume, the settings named on the command line (dest: flag), and
    whether to export the stopped run's best epoch (--finish) instead of training on."""
    defaults = TrainConfig(data="")
    aug = AugmentConfig()
    # No abbreviations: a resumed run must see exactly which flags were written (see `given` below).
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0],
                                allow_abbrev=False)
    actions: list[argparse.Action] = []

    def add(*flags: str, **options) -> None:
        actions.append(p.add_argument(*flags, **options))

    add("--data", default="",
        help="FER2013 folder or .zip, fer2013.csv/train.csv, or class folders (with --resume: taken from the run "
             "unless given)")
    add("--output", default=defaults.output, help="where the final .keras model (+ .json report) goes")
    add("--run-dir", default=None, help="checkpoint folder (default: runs/<name>)")
    add("--name", default=defaults.name)
    add("--resume", action="store_true", help="continue the run in --run-dir from its last epoch")
    add("--finish", action="store_true",
        help="with --resume: export the best epoch so far (model file and report) without training more")
    for flag, attr, kind in [
        ("--epochs", "epochs", int), ("--batch-size", "batch_size", int), ("--lr", "learning_rate", float),
        ("--workers", "workers", int),
        ("--weight-decay", "weight_decay", float), ("--warmup-epochs", "warmup_epochs", int),
        ("--plateau-patience", "plateau_patience", int), ("--patience", "patience", int),
        ("--label-smoothing", "label_smoothing", float), ("--mixup", "mixup_alpha", float),
        ("--cutmix", "cutmix_alpha", float), ("--weaken", "weaken", float),
        ("--width", "width", int), ("--blocks", "blocks", int), ("--convs-per-block", "convs_per_block", int),
        ("--dense-units", "dense_units", int), ("--dropout", "dropout", float), ("--image-size", "image_size", int),
        ("--val-fraction", "val_fraction", float), ("--seed", "seed", int),
        ("--max-train-samples", "max_train_samples", int), ("--teacher", "teacher", str),
        ("--distill-weight", "distill_weight", float), ("--temperature", "temperature", float),
        ("--init", "init", str), ("--votes", "votes", str), ("--logit-adjust", "logit_adjust", float),
        ("--subtle-weight", "subtle_weight", float), ("--ema", "ema", float), ("--heads", "heads", int),
        ("--branch-blocks", "branch_blocks", int),
    ]:
        add(flag, dest=attr, type=kind, default=getattr(defaults, attr))
    add("--head-logit-adjust", dest="head_logit_adjust", type=taus, default=None,
        help="with --heads: one --logit-adjust tau a head, comma-separated (0,0.5: a cross-entropy head and a "
             "logit-adjusted one)")
    add("--xla", dest="xla", action="store_const", const=True, default=None,
        help="compile each training step with XLA (default: on for TensorFlow on an x86-64 CPU in float32, about a "
             "third less time an epoch there; Keras turns it on by itself with a GPU or JAX)")
    add("--no-xla", dest="xla", action="store_const", const=False,
        help="leave XLA off (faster where bfloat16 goes through oneDNN; with --resume, switches a run back)")
    add("--consistent-teacher", action="store_true",
        help="with a --teacher model file: it reads every augmented batch as the student sees it, instead of "
             "each clean face once before training (slower: the teacher runs every epoch)")
    add("--schedule", choices=["cosine", "plateau", "constant"], default=defaults.schedule,
        help="the learning rate after the warm-up: cosine decay to zero, halved at each plateau, or constant "
             "(for epochs whose weights are averaged: --keep-epochs, then training.average_weights)")
    add("--keep-epochs", action="store_true",
        help="keep each epoch's weights in the run folder's epochs/, for training.average_weights (SWA)")
    add("--class-weights", choices=["none", "balanced", "sqrt"], default=defaults.class_weights)
    add("--labels", choices=["fer2013", "ferplus"], default=defaults.labels,
        help="fer2013: the folder labels; ferplus: each face's FER+ vote distribution (see --votes)")
    add("--select", choices=["auto", "accuracy", "balanced_accuracy"], default=defaults.select,
        help="the validation figure that picks the best epoch (auto: balanced accuracy with --labels ferplus)")
    add("--color", choices=["auto", "grayscale", "rgb"], default=defaults.color)
    add("--precision", choices=["auto", "float32", "mixed_bfloat16"], default=defaults.precision)
    # The augmentation flags' dests are AugmentConfig's field names.
    add("--no-flip", dest="flip", action="store_false", help="no horizontal flips")
    add("--rotate", dest="rotate_degrees", type=float, default=aug.rotate_degrees, help="max rotation, degrees")
    add("--shift", type=float, default=aug.shift, help="max shift, fraction of the side")
    add("--zoom", type=float, default=aug.zoom, help="max zoom in/out, fraction")
    add("--erase", dest="erase_probability", type=float, default=aug.erase_probability,
        help="random-erasing probability")
    add("--degrade", dest="degrade_probability", type=float, default=aug.degrade_probability,
        help="share of faces made small, blurred, JPEG-compressed, dark, bright, flat or noisy "
             "(training.augment.degrade_face; benchmarks/robustness.py measures each)")
    args = p.parse_args(argv)
    if not args.data and not args.resume:
        p.error("--data is required (except with --resume, which reads it from the run)")
    augment = AugmentConfig(**{k: v for k, v in vars(args).items() if k in AugmentConfig.__dataclass_fields__})
    values = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    values["run_dir"] = args.run_dir or f"runs/{args.name}"
    tokens = sys.argv[1:] if argv is None else argv
    given = {action.dest: action.option_strings[0] for action in actions if action.dest not in ("resume", "finish")
             and any(token == flag or token.startswith(flag + "=")
                    for token in tokens for flag in action.option_strings)}
    if args.finish and not args.resume:
        p.error("--finish exports a stopped run: give it with --resume --run-dir DIR")
    return TrainConfig(**values, augment=augment), args.resume, given, args.finish


def main(argv: list[str] | None = None) -> int:
    config, resume, given, finish = parse_args(argv)
    signal.signal(signal.SIGINT, CtrlC.handle)
    try:
        path = train(config, resume=resume, given=given, finish=finish)
    except (DatasetError, ModelFileError, TrainingError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: {config.run_dir} keeps every finished epoch; continue exactly where it stopped with\n"
              f"  python -m training.train --resume --run-dir {config.run_dir}", file=sys.stderr)
        return 130
    print(f"saved {path} and {path.with_suffix('.json')}")
    return 0


def exit_now_if_interrupted(code: int) -> None:
    """After Ctrl+C the threads preparing batches (and TensorFlow's own) may still be inside OpenCV or
    TensorFlow; an interpreter shutting down around them can abort (SIGABRT, seen once in CI) instead of
    exiting 130. Every finished epoch is already on disk, so skip the teardown."""
    if code == 130:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    exit_code = main()
    exit_now_if_interrupted(exit_code)
    raise SystemExit(exit_code)
