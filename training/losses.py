"""The training loss: cross-entropy to soft targets, optionally logit-adjusted for the class prior.

Logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021) adds
tau x log(prior) to the logits inside the loss only. The network then learns scores that are not
inflated by how common a class is in training, so at inference, without the adjustment, rare classes
(disgust, fear) win when the face shows them instead of losing to neutral by default. The model ends in
a softmax, so the same is done on probabilities: softmax(z + tau log p) = normalise(softmax(z) x p^tau).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="fer_training")
class AdjustedCrossEntropy(keras.losses.Loss):
    """Cross-entropy of (smoothed) soft targets against the predicted probabilities scaled by prior^tau."""

    def __init__(self, prior=None, tau: float = 0.0, label_smoothing: float = 0.0, name: str = "adjusted_ce",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.prior = None if prior is None else [float(p) for p in prior]
        self.tau, self.label_smoothing = float(tau), float(label_smoothing)

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        classes = ops.shape(y_pred)[-1]
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / ops.cast(classes, "float32")
        if self.prior is not None and self.tau:
            scale = ops.convert_to_tensor(np.power(np.asarray(self.prior, np.float32), self.tau))
            y_pred = y_pred * scale
            y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        return -ops.sum(y_true * ops.log(ops.clip(y_pred, 1e-7, 1.0)), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "prior": self.prior, "tau": self.tau, "label_smoothing": self.label_smoothing}


@keras.saving.register_keras_serializable(package="fer_training")
class BalancedAccuracy(keras.metrics.Metric):
    """Mean recall over the classes seen (the arg-max of each target is its class): a model that calls
    every face neutral scores 1/7 here, however neutral-heavy the data. The model is chosen by it."""

    def __init__(self, num_classes: int, name: str = "balanced_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.correct = self.add_variable(shape=(self.num_classes,), initializer="zeros", name="correct")
        self.support = self.add_variable(shape=(self.num_classes,), initializer="zeros", name="support")

    def update_state(self, y_true, y_pred, sample_weight=None):
        true = ops.one_hot(ops.argmax(y_true, axis=-1), self.num_classes)
        hit = ops.cast(ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)), "float32")
        self.support.assign_add(ops.sum(true, axis=0))
        self.correct.assign_add(ops.sum(true * hit[:, None], axis=0))

    def result(self):
        seen = ops.cast(self.support > 0, "float32")
        recall = self.correct / ops.maximum(self.support, 1.0)
        return ops.sum(recall * seen) / ops.maximum(ops.sum(seen), 1.0)

    def reset_state(self):
        self.correct.assign(ops.zeros((self.num_classes,)))
        self.support.assign(ops.zeros((self.num_classes,)))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes}
