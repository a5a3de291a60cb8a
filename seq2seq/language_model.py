"""The RNN language model: embedding, the shared recurrent core, a softmax over the vocabulary."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.rnn import RecurrentStack


@keras.saving.register_keras_serializable(package="seq2seq")
class RNNLanguageModel(keras.Model):
    """Predicts each next token from the tokens before it.

    x_t = E·w_t; (s_t, state) = core(x_t, state); o_t = softmax(V·s_t + b).
    With `cell="simple"`, one layer and no dropout this is exactly the
    recurrent network language model of Mikolov et al. (2010):
    s_t = tanh(U·x_t + W·s_{t-1}), o_t = softmax(V·s_t). Dropout is applied to
    the embeddings, between layers and to the core's output (Zaremba et al.
    2014). With `tie_embeddings` the output matrix is the embedding matrix
    (Press & Wolf 2017; Inan et al. 2017), preceded by a linear projection when
    `units != embedding_dim`.

    Args:
        vocab_size: number of token ids (id 0 is padding).
        embedding_dim: size of the token embeddings.
        cell, units, num_layers, dropout, activation, residual: the core's
            arguments (see :class:`~seq2seq.rnn.RecurrentStack`).
        tie_embeddings: share the embedding and output matrices.
        stateful: carry the core's state from batch to batch (training by
            truncated back-propagation through time); needs a fixed batch size.

    Call arguments:
        inputs: int tensor `(batch, time)` of token ids.
        initial_state: optional core state (see `RecurrentStack`).
        return_state: also return the core's final state.
        training: whether dropout is active.

    Returns:
        float32 logits `(batch, time, vocab_size)`, and the final state when
        `return_state`.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 256, cell: str = "lstm",
                 units: int = 256, num_layers: int = 1, dropout: float = 0.0,
                 activation: str = "tanh", residual: bool = False, tie_embeddings: bool = False,
                 stateful: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.tie_embeddings = tie_embeddings
        self.stateful = stateful
        policy = self.dtype_policy  # sublayers follow the model's own policy, not the global one
        self.embedding = layers.Embedding(vocab_size, embedding_dim, name="embedding", dtype=policy)
        self.embedding_dropout = layers.Dropout(dropout, name="embedding_dropout", dtype=policy)
        self.core = RecurrentStack(cell=cell, units=units, num_layers=num_layers, dropout=dropout,
                                   activation=activation, residual=residual, stateful=stateful,
                                   name="core", dtype=policy)
        self.output_dropout = layers.Dropout(dropout, name="output_dropout", dtype=policy)
        if tie_embeddings:
            self.projection = (layers.Dense(embedding_dim, use_bias=False, name="projection", dtype=policy)
                               if units != embedding_dim else None)
            self.output_layer = None
        else:
            self.projection = None
            self.output_layer = layers.Dense(vocab_size, name="output", dtype=policy)

    def build(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        self.embedding.build((batch, time))
        self.core.build((batch, time, self.embedding_dim))
        features = self.core.output_units
        if self.projection is not None:
            self.projection.build((batch, time, features))
            features = self.embedding_dim
        if self.tie_embeddings:
            self.output_bias = self.add_weight(shape=(self.vocab_size,), initializer="zeros",
                                               name="output_bias")
        else:
            self.output_layer.build((batch, time, features))
        self.built = True

    def call(self, inputs, training=None, initial_state=None, return_state=False):
        embedded = self.embedding(inputs)  # (batch, time, embedding_dim)
        embedded = self.embedding_dropout(embedded, training=training)
        hidden, state = self.core(embedded, initial_state=initial_state, training=training)
        hidden = self.output_dropout(hidden, training=training)  # (batch, time, units)
        logits = self.output_logits(hidden)
        return (logits, state) if return_state else logits

    def output_logits(self, hidden):
        """float32 logits `(batch, time, vocab_size)` for core outputs `hidden`."""
        if self.tie_embeddings:
            if self.projection is not None:
                hidden = self.projection(hidden)  # (batch, time, embedding_dim)
            matrix = ops.cast(self.embedding.embeddings, hidden.dtype)  # (vocab, embedding_dim)
            logits = ops.matmul(hidden, ops.transpose(matrix)) + ops.cast(self.output_bias, hidden.dtype)
        else:
            logits = self.output_layer(hidden)
        return ops.cast(logits, "float32")

    def step(self, token_ids, state):
        """One token per sequence: `(log_probs (batch, vocab), state)` for ids `(batch,)`.

        Start from `core.zero_state(batch)` and feed `<bos>` first.
        """
        embedded = self.embedding(token_ids)  # (batch, embedding_dim)
        hidden, state = self.core.step(embedded, state)
        return ops.log_softmax(self.output_logits(hidden), axis=-1), state

    def reset_states(self) -> None:
        self.core.reset_states()

    def get_config(self):
        config = super().get_config()
        core = self.core
        config.update(vocab_size=self.vocab_size, embedding_dim=self.embedding_dim, cell=core.cell,
                      units=core.units, num_layers=core.num_layers, dropout=core.dropout,
                      activation=core.activation, residual=core.residual,
                      tie_embeddings=self.tie_embeddings, stateful=self.stateful)
        return config


def token_log_probs(logits, targets, pad_id: int = 0):
    """log p(target) per position, 0 where `targets == pad_id`.

    Args:
        logits: `(batch, time, vocab)`.
        targets: int `(batch, time)`.

    Returns:
        float32 `(batch, time)`.
    """
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)  # (batch, time, vocab)
    picked = ops.take_along_axis(log_probs, ops.expand_dims(targets, -1), axis=-1)[..., 0]
    return ops.where(ops.not_equal(targets, pad_id), picked, ops.zeros_like(picked))


@keras.saving.register_keras_serializable(package="seq2seq")
class TokenLogProbs(layers.Layer):
    """Layer form of :func:`token_log_probs`: `[logits, targets] -> (batch, time)`."""

    def call(self, inputs):
        logits, targets = inputs
        return token_log_probs(logits, targets)


def build_scorer(language_model: RNNLanguageModel) -> keras.Model:
    """A model mapping `{"inputs", "targets"}` id tensors to per-token log-probabilities."""
    inputs = keras.Input((None,), dtype="int32", name="inputs")
    targets = keras.Input((None,), dtype="int32", name="targets")
    logits = language_model(inputs)
    return keras.Model({"inputs": inputs, "targets": targets}, TokenLogProbs()([logits, targets]))


def build_language_model(model_config, vocab_size: int, stateful: bool = False) -> RNNLanguageModel:
    """The one place where an `LMModelConfig` becomes a model."""
    rnn = model_config.rnn
    return RNNLanguageModel(vocab_size=vocab_size, embedding_dim=model_config.embedding_dim,
                            cell=rnn.cell, units=rnn.units, num_layers=rnn.num_layers,
                            dropout=rnn.dropout, activation=rnn.activation, residual=rnn.residual,
                            tie_embeddings=model_config.tie_embeddings, stateful=stateful,
                            name="language_model")
