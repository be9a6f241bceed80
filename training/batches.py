"""The training batches: shuffled and augmented, the same whatever the number of threads that make them."""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from training.augment import augment_batch, cutmix, mixup, weaken
from training.config import TrainConfig
from training.distill import BatchTeacher


def batch_workers(requested: int) -> int:
    return requested if requested > 0 else max(1, min(8, os.cpu_count() or 1))


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled, augmented training batches; the order and the noise depend only on (seed, epoch, batch).

    Batches are prepared by `config.workers` threads (OpenCV releases the GIL while it warps), ahead of
    the accelerator. Each batch draws from its own generator seeded by (seed, epoch, index), so any number
    of workers, in any order, gives exactly the batches one worker gives, and a resumed run too. The
    epoch is set by `EpochKeeper.on_epoch_begin`, which Keras calls before it starts the workers."""

    def __init__(self, images, labels, num_classes, config: TrainConfig, sample_weights=None, targets=None,
                 neutral: int | None = None, teacher: BatchTeacher | None = None):
        """`sample_weights`: (N,) each face's weight in the loss; `targets`: (N, classes) soft targets to learn
        instead of the one-hot labels (votes, distillation); `neutral`: the neutral class, for `config.weaken`;
        `teacher`: blends its reading of each finished batch into the targets (`--consistent-teacher`)."""
        workers = batch_workers(config.workers)
        super().__init__(workers=workers, use_multiprocessing=False, max_queue_size=max(10, 2 * workers))
        self.targets = targets
        self.images, self.labels = images, labels
        self.num_classes, self.config = num_classes, config
        self.sample_weights = sample_weights
        self.neutral = neutral
        self.teacher = teacher
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.config.batch_size)

    def __getitem__(self, index: int):
        order = np.random.default_rng([self.config.seed, self.epoch]).permutation(len(self.labels))
        idx = order[index * self.config.batch_size : (index + 1) * self.config.batch_size]
        rng = np.random.default_rng([self.config.seed, self.epoch, index])
        x = augment_batch(self.images[idx], rng, self.config.augment).astype(np.float32)
        if self.targets is not None:
            y = self.targets[idx]
        else:
            y = keras.utils.to_categorical(self.labels[idx], self.num_classes).astype(np.float32)
        if self.config.mixup_alpha > 0:
            x, y = mixup(x, y, rng, self.config.mixup_alpha)
        if self.config.cutmix_alpha > 0:
            x, y = cutmix(x, y, rng, self.config.cutmix_alpha)
        if self.config.weaken > 0:
            x, y = weaken(x, y, rng, self.config.weaken, self.neutral)
        if self.teacher is not None:  # last: the teacher reads exactly the faces the student will
            y = self.teacher.blend(x, y)
        if self.sample_weights is not None:
            return x, y, self.sample_weights[idx]
        return x, y
