"""The source-side encoder: embeddings and the shared recurrent core."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.core.embedding import embedding_with_dropout
from seq2seq.core.recurrent import RecurrentStack, core_arguments
from seq2seq.core.specials import PAD_ID


@keras.saving.register_keras_serializable(package="seq2seq")
class RNNEncoder(layers.Layer):
    """Reads the whole source sentence (optionally in both directions).

    Args:
        vocab_size: source vocabulary size (id 0 is padding).
        embedding_dim: source embedding size.
        rnn: keyword arguments of the core, :class:`~seq2seq.core.recurrent.RecurrentStack`
            (bidirectional by default).
        dropout: dropout rate on the embeddings.

    Call arguments:
        source_ids: int `(batch, source_len)`, right-padded with 0.

    Returns:
        `(outputs, states, mask)`: `(batch, source_len, output_units)`, the
        core's final states (padding skipped), and the boolean padding mask.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 256, rnn: dict | None = None,
                 dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        policy = self.dtype_policy
        self.embedding, self.embedding_dropout = embedding_with_dropout(vocab_size, embedding_dim, dropout, policy)
        self.core = RecurrentStack(**{"bidirectional": True, **(rnn or {})}, name="core", dtype=policy)

    @property
    def output_units(self) -> int:
        return self.core.output_units

    def build(self, source_shape):
        self.embedding.build(source_shape)
        self.core.build(tuple(source_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, source_ids, training=None):
        mask = ops.not_equal(source_ids, PAD_ID)  # (batch, source_len)
        embedded = self.embedding_dropout(self.embedding(source_ids), training=training)
        outputs, states = self.core(embedded, mask=mask, training=training)
        return outputs, states, mask

    def summary(self, states):
        """The top layer's final hidden states of both directions, concatenated: `(batch, output_units)`."""
        top = states[-1]
        if self.core.cell == "lstm":  # [h, c] per direction
            hidden = top[0::2]
        else:
            hidden = top
        return ops.concatenate(hidden, axis=-1) if len(hidden) > 1 else hidden[0]

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "rnn": core_arguments(self.core), "dropout": self.dropout}
