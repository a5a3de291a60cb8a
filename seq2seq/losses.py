"""Training losses."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="seq2seq")
class MaskedCrossEntropy(keras.losses.Loss):
    """Token-level cross-entropy with label smoothing, averaged over non-padding targets.

    With smoothing ε the target distribution is (1 - ε) on the reference token
    plus ε spread uniformly over the vocabulary (Szegedy et al. 2016).

    Call arguments:
        y_true: int `(batch, time)`, 0 at padding.
        y_pred: logits `(batch, time, vocab)`.

    Returns:
        the mean loss per target token (a scalar).
    """

    def __init__(self, label_smoothing: float = 0.0, pad_id: int = 0, name: str = "masked_cross_entropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing
        self.pad_id = pad_id

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)  # (batch, time, vocab)
        nll = -ops.take_along_axis(log_probs, ops.expand_dims(y_true, -1), axis=-1)[..., 0]
        if self.label_smoothing:
            nll = (1.0 - self.label_smoothing) * nll - self.label_smoothing * ops.mean(log_probs, axis=-1)
        mask = ops.cast(ops.not_equal(y_true, self.pad_id), "float32")
        return ops.sum(nll * mask) / ops.maximum(ops.sum(mask), 1.0)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "pad_id": self.pad_id}
