"""The output layer: decoder or language-model states to vocabulary logits, tied or untied.

While :func:`restricted` is active, every :class:`OutputProjection` of a model
computes the logits of a subset of the vocabulary only (a lexical shortlist,
see :mod:`seq2seq.translation.shortlist`): it multiplies by those columns of its
matrix, taken once before the search loop, not at every step.
"""

from __future__ import annotations

import contextlib
import threading

import keras
from keras import layers, ops

from seq2seq.compat import flatten_layers
from seq2seq.core import precision

_restriction = threading.local()


def heads_of(model) -> list:
    """Every :class:`OutputProjection` in `model` (an ensemble's or a fusion's several)."""
    return [layer for layer in flatten_layers(model) if isinstance(layer, OutputProjection)]


@contextlib.contextmanager
def restricted(model, vocabulary):
    """While active (in this thread), `model`'s output layers give logits `(..., len(vocabulary))`.

    Column i is the logit of token `vocabulary[i]` (int32 ids). The columns
    are gathered here, from the reduced-precision copies of the matrices when
    :func:`seq2seq.core.precision.using` is active. None: no restriction.
    """
    if vocabulary is None:
        yield
        return
    previous = getattr(_restriction, "columns", {})
    _restriction.columns = {id(head): head.columns(vocabulary) for head in heads_of(model)}
    try:
        yield
    finally:
        _restriction.columns = previous


@keras.saving.register_keras_serializable(package="seq2seq")
class OutputProjection(layers.Layer):
    """logits = V·h + b, with V its own matrix or the transposed embedding matrix.

    Untied, the layer owns `kernel` `(units, vocab_size)` and `bias`. Tied
    (Press & Wolf 2017; Inan et al. 2017), V is the embedding matrix of
    `embedding`, preceded by a linear `projection` to the embedding size when
    `units != embedding_dim`; only `bias` is the layer's own. The language
    model and the translation model both use this layer (as their `head`).

    Args:
        vocab_size: number of output ids.
        units: size of the incoming states.
        embedding: with `tie_embeddings`, the `keras.layers.Embedding` whose
            matrix is shared (not part of the config; the owning model passes it).
        tie_embeddings: share the embedding matrix.

    Call arguments:
        hidden: `(..., units)`.

    Returns:
        float32 logits `(..., vocab_size)`.

    Example:
        >>> embedding = keras.layers.Embedding(10, 4)
        >>> embedding.build((None,))
        >>> head = OutputProjection(vocab_size=10, units=6, embedding=embedding, tie_embeddings=True)
        >>> tuple(head(keras.ops.ones((2, 6))).shape)
        (2, 10)
    """

    def __init__(
        self,
        vocab_size: int,
        units: int,
        embedding: layers.Embedding | None = None,
        tie_embeddings: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if tie_embeddings and embedding is None:
            raise ValueError("`tie_embeddings=True` needs the `embedding` layer whose matrix is shared.")
        self.vocab_size = vocab_size
        self.units = units
        self.tie_embeddings = tie_embeddings
        # A function, not an attribute holding the layer: the owning model tracks and saves the embedding.
        self._shared_matrix = (lambda: embedding.embeddings) if tie_embeddings else None
        embedding_dim = embedding.output_dim if tie_embeddings else None
        self.projection = (
            layers.Dense(embedding_dim, use_bias=False, name="projection", dtype=self.dtype_policy)
            if tie_embeddings and units != embedding_dim
            else None
        )

    def build(self, input_shape):
        if self.tie_embeddings:
            if self.projection is not None:
                self.projection.build(tuple(input_shape[:-1]) + (self.units,))
        else:
            self.kernel = self.add_weight(
                shape=(self.units, self.vocab_size), initializer="glorot_uniform", name="kernel"
            )
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.built = True

    def columns(self, vocabulary):
        """`(matrix (units or embedding_dim, len(vocabulary)), bias)`: the columns of the ids in `vocabulary`."""
        if self.tie_embeddings:
            matrix = ops.transpose(ops.take(precision.current(self._shared_matrix()), vocabulary, axis=0))
        else:
            matrix = ops.take(precision.current(self.kernel), vocabulary, axis=1)
        return matrix, ops.take(self.bias, vocabulary, axis=0)

    def call(self, hidden):
        if self.projection is not None:  # (tied, units != embedding_dim)
            hidden = self.projection(hidden)  # (..., embedding_dim)
        columns = getattr(_restriction, "columns", {}).get(id(self))
        if columns is not None:  # a shortlist's columns, gathered by `restricted`
            matrix, bias = columns
            product = ops.cast(ops.matmul(ops.cast(hidden, matrix.dtype), matrix), hidden.dtype)
        elif self.tie_embeddings:
            product, bias = precision.matmul(hidden, self._shared_matrix(), transpose=True), self.bias
        else:
            product, bias = precision.matmul(hidden, self.kernel), self.bias  # by (units, vocab)
        logits = product + ops.cast(bias, hidden.dtype)  # (..., vocab, or the shortlist's length)
        return ops.cast(logits, "float32")

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "units": self.units,
            "tie_embeddings": self.tie_embeddings,
        }
