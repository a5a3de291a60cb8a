"""Metrics computed inside training and evaluation."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class Perplexity(keras.metrics.Metric):
    """exp(mean negative log-likelihood per target token); padding (id 0) is not counted.

    Call arguments:
        y_true: int `(batch, time)` target ids.
        y_pred: float logits `(batch, time, vocab)`.
    """

    def __init__(self, name: str = "perplexity", pad_id: int = 0, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.total_nll = self.add_variable(shape=(), initializer="zeros", name="total_nll")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "int32")
        nll = keras.losses.sparse_categorical_crossentropy(y_true, ops.cast(y_pred, "float32"),
                                                          from_logits=True)  # (batch, time)
        weight = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        if sample_weight is not None:
            weight = weight * ops.cast(sample_weight, "float32")
        self.total_nll.assign_add(ops.sum(nll * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.exp(self.total_nll / ops.maximum(self.count, 1.0))

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


@keras.saving.register_keras_serializable(package="seq2seq")
class TokenCount(keras.metrics.Metric):
    """How many non-padding target tokens the epoch has seen so far."""

    def __init__(self, name: str = "target_tokens", pad_id: int = 0, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pad_id = pad_id
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.count.assign_add(ops.sum(ops.cast(ops.not_equal(y_true, self.pad_id), "float32")))

    def result(self):
        return self.count + 0.0  # a value, not the variable (validation resets the variable later)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}
