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

    def __init__(self, prior=None, tau: float = 0.0, label_smoothing: float = 0.0, head_taus=None,
                 name: str = "adjusted_ce", **kwargs):
        """`head_taus`: one tau per head of a shared-trunk model (`training.model`), whose output holds every
        head's probabilities side by side; each head gets its own loss, and the loss is their mean."""
        super().__init__(name=name, **kwargs)
        self.prior = None if prior is None else [float(p) for p in prior]
        self.tau, self.label_smoothing = float(tau), float(label_smoothing)
        self.head_taus = None if head_taus is None else [float(t) for t in head_taus]

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.cast(y_true, "float32")
        classes = y_true.shape[-1]
        taus = self.head_taus or [self.tau]
        y_pred = ops.reshape(y_pred, (-1, len(taus), classes))  # one row a head
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / float(classes)
        if self.prior is not None and any(taus):
            scale = np.power(np.asarray(self.prior, np.float32)[None, :], np.asarray(taus, np.float32)[:, None])
            y_pred = y_pred * ops.convert_to_tensor(scale)
            y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        cross_entropy = -ops.sum(y_true[:, None, :] * ops.log(ops.clip(y_pred, 1e-7, 1.0)), axis=-1)
        return ops.mean(cross_entropy, axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "prior": self.prior, "tau": self.tau, "label_smoothing": self.label_smoothing,
                "head_taus": self.head_taus}


def mean_of_heads(y_pred, heads: int):
    """The probabilities the app will see from a shared-trunk model's side-by-side head outputs."""
    if heads == 1:
        return y_pred
    return ops.mean(ops.reshape(y_pred, (-1, heads, y_pred.shape[-1] // heads)), axis=1)


@keras.saving.register_keras_serializable(package="fer_training")
class HeadsAccuracy(keras.metrics.CategoricalAccuracy):
    """Accuracy of the mean of a shared-trunk model's heads, as the app will run it."""

    def __init__(self, heads: int = 1, name: str = "accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.heads = int(heads)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(y_true, mean_of_heads(y_pred, self.heads), sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "heads": self.heads}


@keras.saving.register_keras_serializable(package="fer_training")
class BalancedAccuracy(keras.metrics.Metric):
    """Mean recall over the classes seen (the arg-max of each target is its class): a model that calls
    every face neutral scores 1/7 here, however neutral-heavy the data. The model is chosen by it."""

    def __init__(self, num_classes: int, heads: int = 1, name: str = "balanced_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.heads = int(num_classes), int(heads)
        self.correct = self.add_variable(shape=(self.num_classes,), initializer="zeros", name="correct")
        self.support = self.add_variable(shape=(self.num_classes,), initializer="zeros", name="support")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = mean_of_heads(y_pred, self.heads)
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
        return {**super().get_config(), "num_classes": self.num_classes, "heads": self.heads}
