"""The settings of one training run, and which validation figures pick its best epoch.

Its own module so that training (`training.train`) and the report written after it (`training.report`)
both read it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from training.augment import AugmentConfig


@dataclass
class TrainConfig:
    data: str
    output: str = "models/emotion_cnn.keras"
    run_dir: str = "runs/emotion_cnn"
    name: str = "emotion_cnn"
    epochs: int = 70
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_epochs: int = 2
    schedule: str = "cosine"  # or "plateau": halve the rate after `plateau_patience` flat epochs; or "constant"
    # (the rate stays at `learning_rate` after the warm-up: epochs whose weights are then averaged, SWA)
    plateau_patience: int = 4
    patience: int = 15  # early stop after this many epochs without a better validation accuracy
    label_smoothing: float = 0.1
    mixup_alpha: float = 0.0  # Beta(alpha, alpha) share of each face blended with another (0: no mixup)
    cutmix_alpha: float = 0.0  # Beta(alpha, alpha) share of each face kept when a box of another is pasted in
    weaken: float = 0.0  # share of the expressive faces blended towards a neutral face of their batch (augment.weaken)
    class_weights: str = "none"  # "balanced" or "sqrt" up-weight rare classes such as disgust
    ema: float = 0.0  # momentum of an exponential moving average of the weights, which validation, checkpoints and
    # the result then use (0: none; 0.999 averages about the last 1,000 steps); it starts after the warm-up
    subtle_weight: float = 1.0  # weight of the subtle expressions' faces in the loss (FER+ votes; Votes.subtle)
    width: int = 32
    blocks: int = 4
    convs_per_block: int = 2
    dense_units: int = 256
    dropout: float = 0.4
    heads: int = 1  # > 1: an ensemble with a shared trunk (training.model), one loss a head
    branch_blocks: int = 1  # conv blocks each head has of its own, after the shared ones (0: dense layers only)
    head_logit_adjust: list[float] | None = None  # one tau a head (e.g. cross-entropy and logit-adjusted heads);
    # default: --logit-adjust for every head
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    image_size: int | None = None
    color: str = "auto"
    val_fraction: float = 0.1
    precision: str = "auto"  # "mixed_bfloat16" where the hardware has fast bf16, else float32
    seed: int = 42
    max_train_samples: int | None = None  # for quick experiments and tests
    xla: bool | None = None  # compile each training step with XLA on TensorFlow, which Keras leaves off without a
    # GPU: about a third less time an epoch on a 2-core AVX2 CPU, slower where bfloat16 runs through oneDNN.
    # None: this machine's choice when the run starts (training.train.choose_xla); JAX and a GPU compile anyway
    workers: int = 0  # threads preparing batches (0: one per core, up to 8); the batches do not depend on it
    teacher: str | None = None  # distil from this model's probabilities (training.distill)
    distill_weight: float = 0.7  # share of the teacher in each target; the rest is the true label
    temperature: float = 2.0  # softens the teacher's probabilities
    consistent_teacher: bool = False  # the teacher reads each batch as the student sees it (augmented, faulty),
    # not each clean face once (training.distill.BatchTeacher)
    init: str | None = None  # start from this model's weights (a narrower copy from training.prune), not random ones
    labels: str = "fer2013"  # or "ferplus": learn the FER+ vote distribution of each face (training.ferplus)
    votes: str | None = None  # the FER+ labels.csv (default: ferplus/labels.csv beside the data folder)
    logit_adjust: float = 0.0  # tau of the logit-adjusted loss (training.losses): > 0 favours rare classes
    keep_epochs: bool = False  # keep every epoch's weights (epochs/epoch_NNN.weights.h5) for training.average_weights
    select: str = "auto"  # the validation figure that picks the epoch: accuracy, balanced_accuracy, or auto
    # (balanced accuracy, then accuracy, with --labels ferplus; accuracy otherwise)

    @classmethod
    def from_json(cls, saved: dict) -> TrainConfig:
        """The settings a run saved in its state (`dataclasses.asdict`); settings added since take their defaults."""
        return cls(**{**saved, "augment": AugmentConfig(**saved["augment"])})


def selection_keys(config: TrainConfig) -> list[str]:
    """The history figures that pick the best epoch, compared in order (the second breaks ties)."""
    select = config.select
    if select == "auto":
        select = "balanced_accuracy" if config.labels == "ferplus" else "accuracy"
    if select == "balanced_accuracy":
        return ["val_balanced_accuracy", "val_accuracy"]
    if select == "accuracy":
        return ["val_accuracy"]
    raise ValueError(f"select must be auto, accuracy or balanced_accuracy, not {select!r}")

