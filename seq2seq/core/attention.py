"""Attention over encoder outputs: additive (Bahdanau) and multiplicative (Luong)."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.core.choices import ATTENTIONS


def masked_softmax(scores, mask):
    """Softmax over the last axis with masked positions given zero weight.

    Args:
        scores: `(batch, source_len)`.
        mask: boolean `(batch, source_len)` or None.
    """
    if mask is not None:
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
    return ops.softmax(ops.cast(scores, "float32"), axis=-1)


@keras.saving.register_keras_serializable(package="seq2seq")
class AdditiveAttention(layers.Layer):
    """Bahdanau et al. (2015): score(s, h_j) = v·tanh(W·s + U·h_j).

    Args:
        units: size of the hidden layer of the score.

    Usage:
        keys = attention.prepare(memory)            # U·h_j once per sentence
        context, weights = attention(query, memory, keys, mask)

    Call arguments:
        query: `(batch, query_dim)`.
        memory: `(batch, source_len, memory_dim)` encoder outputs.
        keys: `prepare(memory)`, `(batch, source_len, units)`.
        mask: boolean `(batch, source_len)`, False at padding.

    Returns:
        `(context, weights)`: `(batch, memory_dim)` and `(batch, source_len)`.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.memory_layer = layers.Dense(units, use_bias=False, name="memory_layer", dtype=self.dtype_policy)
        self.query_layer = layers.Dense(units, use_bias=False, name="query_layer", dtype=self.dtype_policy)
        self.score_layer = layers.Dense(1, use_bias=False, name="score_layer", dtype=self.dtype_policy)

    def build(self, query_shape, memory_shape):
        self.memory_layer.build(memory_shape)
        self.query_layer.build(query_shape)
        self.score_layer.build(tuple(memory_shape[:-1]) + (self.units,))
        self.built = True

    def prepare(self, memory):
        return self.memory_layer(memory)  # (batch, source_len, units)

    def call(self, query, memory, keys, mask=None):
        hidden = ops.tanh(keys + ops.expand_dims(self.query_layer(query), 1))  # (batch, source_len, units)
        scores = ops.squeeze(self.score_layer(hidden), -1)  # (batch, source_len)
        weights = masked_softmax(scores, mask)
        context = ops.einsum("bs,bsd->bd", ops.cast(weights, memory.dtype), memory)  # (batch, memory_dim)
        return context, weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="seq2seq")
class MultiplicativeAttention(layers.Layer):
    """Luong et al. (2015), "general": score(h_t, h_s) = h_t·W·h_s.

    Args:
        units: the query size (W maps memory to it).

    Same usage, call arguments and returns as :class:`AdditiveAttention`.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.memory_layer = layers.Dense(units, use_bias=False, name="memory_layer", dtype=self.dtype_policy)

    def build(self, query_shape, memory_shape):
        self.memory_layer.build(memory_shape)
        self.built = True

    def prepare(self, memory):
        return self.memory_layer(memory)  # (batch, source_len, units)

    def call(self, query, memory, keys, mask=None):
        scores = ops.einsum("bq,bsq->bs", query, keys)  # (batch, source_len)
        weights = masked_softmax(scores, mask)
        context = ops.einsum("bs,bsd->bd", ops.cast(weights, memory.dtype), memory)
        return context, weights

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def make_attention(kind: str, units: int, dtype=None) -> layers.Layer | None:
    """The attention layer for `kind` ("none" gives None)."""
    if kind not in ATTENTIONS:
        raise ValueError(f"`attention` must be one of {ATTENTIONS}. Received: attention={kind!r}")
    if kind == "bahdanau":
        return AdditiveAttention(units=units, name="attention", dtype=dtype)
    if kind == "luong":
        return MultiplicativeAttention(units=units, name="attention", dtype=dtype)
    return None
