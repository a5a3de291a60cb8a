"""Decoding: greedy search, beam search with length penalty and n-best lists, sampling.

All three run as one `keras.ops.while_loop` over target positions (no Python
loop per step). :class:`Searcher` wraps them in a Keras model whose `search`
compiles them into a graph per batch shape (a `tf.function` on TensorFlow,
`predict_on_batch`'s `jax.jit` on JAX).

Conventions: `source_ids` are `(batch, source_len)` int, 0-padded; outputs are
token ids `(batch, [n_best,] max_length)` with `<eos>` included and 0 after
it; scores are sums of natural-log probabilities of the emitted tokens
(`<eos>` included).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

NEG_INF = -1e9


def max_target_length(source_len: int, ratio: float, offset: int) -> int:
    """The longest output allowed for sources of `source_len` tokens."""
    return max(1, int(math.ceil(ratio * source_len + offset)))


def length_penalty(lengths, alpha: float):
    """Wu et al. (2016): ((5 + |Y|) / 6) ** alpha."""
    return ops.power((5.0 + ops.cast(lengths, "float32")) / 6.0, alpha)


def _gather(structure, indices):
    """Rows `indices` of every tensor in `structure`; None (no attention keys) stays None."""
    return keras.tree.map_structure(lambda x: None if x is None else ops.take(x, indices, axis=0), structure)


def _repeat(structure, times: int):
    """Each row of every tensor in `structure` repeated `times` times; None stays None."""
    return keras.tree.map_structure(lambda x: None if x is None else ops.repeat(x, times, axis=0), structure)


def greedy_search(model, source_ids, bos_id: int, eos_id: int, max_length: int,
                  temperature: float | None = None, seed=None):
    """The most likely token at each step (or a sampled one when `temperature` is set).

    Returns:
        `(tokens (batch, max_length) int32, scores (batch,) float32)`.
    """
    memory, keys, mask, carry = model.encode(source_ids)
    batch = ops.shape(source_ids)[0]

    def cond(t, tokens, previous, carry, finished, scores):
        return ops.logical_and(t < max_length, ops.logical_not(ops.all(finished)))

    def body(t, tokens, previous, carry, finished, scores):
        log_probs, _, carry = model.decode_step(previous, carry, memory, keys, mask)  # (batch, vocab)
        if temperature is None:
            chosen = ops.cast(ops.argmax(log_probs, axis=-1), "int32")
        else:
            chosen = ops.cast(keras.random.categorical(log_probs / temperature, 1, seed=seed)[:, 0], "int32")
        picked = ops.take_along_axis(log_probs, chosen[:, None], axis=-1)[:, 0]
        chosen = ops.where(finished, ops.zeros_like(chosen), chosen)
        scores = scores + ops.where(finished, ops.zeros_like(picked), picked)
        tokens = ops.slice_update(tokens, [0, t], chosen[:, None])
        finished = ops.logical_or(finished, ops.equal(chosen, eos_id))
        return t + 1, tokens, chosen, carry, finished, scores

    start = (ops.convert_to_tensor(0, "int32"), ops.zeros((batch, max_length), "int32"),
             ops.full((batch,), bos_id, "int32"), carry, ops.zeros((batch,), "bool"),
             ops.zeros((batch,), "float32"))
    _, tokens, _, _, _, scores = ops.while_loop(cond, body, start, maximum_iterations=max_length)
    return tokens, scores


def beam_search(model, source_ids, bos_id: int, eos_id: int, max_length: int, beam_size: int = 5,
                alpha: float = 0.0):
    """Beam search; hypotheses are ranked by score / length_penalty(length, alpha).

    A finished hypothesis stays in the beam with its score unchanged (it is
    extended only by padding at no cost), so it competes with the open ones
    until the end.

    Returns:
        `(tokens (batch, beam, max_length), scores (batch, beam), normalized (batch, beam))`,
        best first by the normalized score.
    """
    memory, keys, mask, carry = model.encode(source_ids)
    batch = ops.shape(source_ids)[0]
    memory, keys, mask, carry = _repeat((memory, keys, mask, carry), beam_size)  # (batch * beam, ...)
    first = ops.concatenate([ops.zeros((1,)), ops.full((beam_size - 1,), NEG_INF)])
    scores = ops.tile(first[None, :], (batch, 1))  # only beam 0 is live at the start
    offsets = ops.arange(batch, dtype="int32")[:, None] * beam_size

    def cond(t, tokens, previous, carry, finished, lengths, scores):
        return ops.logical_and(t < max_length, ops.logical_not(ops.all(finished)))

    def body(t, tokens, previous, carry, finished, lengths, scores):
        log_probs, _, carry = model.decode_step(previous, carry, memory, keys, mask)  # (batch*beam, vocab)
        vocab = ops.shape(log_probs)[-1]
        log_probs = ops.reshape(log_probs, (batch, beam_size, vocab))
        pad_only = ops.where(ops.arange(vocab) == 0, 0.0, NEG_INF)  # a finished beam only pads
        log_probs = ops.where(finished[..., None], pad_only[None, None, :], log_probs)
        total = ops.reshape(scores[..., None] + log_probs, (batch, beam_size * vocab))
        scores, best = ops.top_k(total, beam_size)  # (batch, beam)
        best = ops.cast(best, "int32")
        origin, chosen = best // vocab, best % vocab
        carry = _gather(carry, ops.reshape(origin + offsets, (-1,)))
        tokens = ops.take_along_axis(tokens, origin[..., None], axis=1)
        finished = ops.take_along_axis(finished, origin, axis=1)
        lengths = ops.take_along_axis(lengths, origin, axis=1) + ops.cast(ops.logical_not(finished), "int32")
        tokens = ops.slice_update(tokens, [0, 0, t], chosen[..., None])
        finished = ops.logical_or(finished, ops.equal(chosen, eos_id))
        return t + 1, tokens, ops.reshape(chosen, (-1,)), carry, finished, lengths, scores

    start = (ops.convert_to_tensor(0, "int32"), ops.zeros((batch, beam_size, max_length), "int32"),
             ops.full((batch * beam_size,), bos_id, "int32"), carry,
             ops.zeros((batch, beam_size), "bool"), ops.zeros((batch, beam_size), "int32"), scores)
    _, tokens, _, _, _, lengths, scores = ops.while_loop(cond, body, start, maximum_iterations=max_length)
    normalized = scores / length_penalty(lengths, alpha)
    order = ops.argsort(-normalized, axis=-1)
    return (ops.take_along_axis(tokens, order[..., None], axis=1),
            ops.take_along_axis(scores, order, axis=1), ops.take_along_axis(normalized, order, axis=1))


@keras.saving.register_keras_serializable(package="seq2seq")
class Searcher(keras.Model):
    """A decoding method around a trained model, so `predict_on_batch` compiles it.

    Args:
        model: a :class:`~seq2seq.model.Seq2SeqModel` (weights shared, not copied).
        bos_id, eos_id: target special ids.
        beam_size: 1 for greedy search; more for beam search.
        alpha: length-penalty exponent (beam search).
        max_length_ratio, max_length_offset: outputs stop at
            `ceil(ratio * source_len + offset)` tokens.
        temperature: sample instead of searching (greedy path only).
        seed: sampling seed.

    Call arguments:
        source_ids: int `(batch, source_len)`.

    Returns:
        dict with `tokens` `(batch, beam, max_length)`, `scores` and
        `normalized_scores` `(batch, beam)` (beam is 1 for greedy search).
    """

    def __init__(self, model, bos_id: int, eos_id: int, beam_size: int = 1, alpha: float = 0.0,
                 max_length_ratio: float = 1.5, max_length_offset: int = 10,
                 temperature: float | None = None, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.bos_id, self.eos_id = bos_id, eos_id
        self.beam_size, self.alpha = beam_size, alpha
        self.max_length_ratio, self.max_length_offset = max_length_ratio, max_length_offset
        self.temperature = temperature
        self.seed_generator = keras.random.SeedGenerator(seed) if temperature is not None else None
        self._compiled = None

    def build(self, input_shape=None):
        self.built = True  # no weights of its own: the wrapped model is already built

    def search(self, source_ids) -> dict:
        """Decodes one padded batch in a compiled graph; returns numpy arrays (see the class doc).

        On TensorFlow this is a `tf.function` that traces once per batch
        shape. (Keras' `predict_on_batch` uses `reduce_retracing`, which after
        a few shapes relaxes the source length to unknown, and search needs it
        static to size its buffers.) Other backends use `predict_on_batch`,
        which compiles per shape already.
        """
        if keras.backend.backend() != "tensorflow":
            return self.predict_on_batch(source_ids)
        if self._compiled is None:
            import tensorflow as tf

            self._compiled = tf.function(lambda ids: self(ids, training=False), reduce_retracing=False)
        return keras.tree.map_structure(np.asarray, self._compiled(source_ids))

    def call(self, source_ids):
        source_len = source_ids.shape[1]
        if source_len is None:
            raise ValueError("Searcher needs a static source length; pad batches to fixed lengths.")
        max_length = max_target_length(source_len, self.max_length_ratio, self.max_length_offset)
        if self.beam_size == 1:
            tokens, scores = greedy_search(self.model, source_ids, self.bos_id, self.eos_id, max_length,
                                           self.temperature, self.seed_generator)
            return {"tokens": tokens[:, None, :], "scores": scores[:, None],
                    "normalized_scores": scores[:, None]}
        tokens, scores, normalized = beam_search(self.model, source_ids, self.bos_id, self.eos_id,
                                                 max_length, self.beam_size, self.alpha)
        return {"tokens": tokens, "scores": scores, "normalized_scores": normalized}
