"""The output layer: decoder or language-model states to vocabulary logits, tied or untied."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.core import precision


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

    def __init__(self, vocab_size: int, units: int, embedding: layers.Embedding | None = None,
                 tie_embeddings: bool = False, **kwargs):
        super().__init__(**kwargs)
        if tie_embeddings and embedding is None:
            raise ValueError("`tie_embeddings=True` needs the `embedding` layer whose matrix is shared.")
        self.vocab_size = vocab_size
        self.units = units
        self.tie_embeddings = tie_embeddings
        # A function, not an attribute holding the layer: the owning model tracks and saves the embedding.
        self._shared_matrix = (lambda: embedding.embeddings) if tie_embeddings else None
        embedding_dim = embedding.output_dim if tie_embeddings else None
        self.projection = (layers.Dense(embedding_dim, use_bias=False, name="projection", dtype=self.dtype_policy)
                           if tie_embeddings and units != embedding_dim else None)

    def build(self, input_shape):
        if self.tie_embeddings:
            if self.projection is not None:
                self.projection.build(tuple(input_shape[:-1]) + (self.units,))
        else:
            self.kernel = self.add_weight(shape=(self.units, self.vocab_size), initializer="glorot_uniform",
                                          name="kernel")
        self.bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros", name="bias")
        self.built = True

    def call(self, hidden):
        if self.tie_embeddings:
            if self.projection is not None:
                hidden = self.projection(hidden)  # (..., embedding_dim)
            product = precision.matmul(hidden, self._shared_matrix(), transpose=True)  # by (vocab, embedding_dim)
        else:
            product = precision.matmul(hidden, self.kernel)  # by (units, vocab)
        logits = product + ops.cast(self.bias, hidden.dtype)  # (..., vocab)
        return ops.cast(logits, "float32")

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "units": self.units,
                "tie_embeddings": self.tie_embeddings}
