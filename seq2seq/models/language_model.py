"""The RNN language model: embedding, the shared recurrent core, the shared output layer."""

from __future__ import annotations

import dataclasses

import keras
from keras import layers, ops

from seq2seq.core.embedding import embedding_with_dropout
from seq2seq.core.likelihood import TokenLogProbs
from seq2seq.core.output import OutputProjection
from seq2seq.core.recurrent import RNN_ARGUMENTS, RecurrentStack, core_arguments


@keras.saving.register_keras_serializable(package="seq2seq")
class RNNLanguageModel(keras.Model):
    """Predicts each next token from the tokens before it.

    x_t = E·w_t; (s_t, state) = core(x_t, state); o_t = softmax(V·s_t + b).
    With `cell="simple"`, one layer and no dropout this is exactly the
    recurrent network language model of Mikolov et al. (2010):
    s_t = tanh(U·x_t + W·s_{t-1}), o_t = softmax(V·s_t). The core's dropout
    rate also applies to the embeddings and to the core's output (Zaremba et
    al. 2014). With `tie_embeddings` the output matrix is the embedding matrix
    (see :class:`~seq2seq.core.output.OutputProjection`).

    Args:
        vocab_size: number of token ids (id 0 is padding).
        embedding_dim: size of the token embeddings.
        rnn: keyword arguments of :class:`~seq2seq.core.recurrent.RecurrentStack`
            (cell, units, num_layers, dropout, activation, residual; a
            language model is never bidirectional).
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

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 256,
        rnn: dict | None = None,
        tie_embeddings: bool = False,
        stateful: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.tie_embeddings = tie_embeddings
        self.stateful = stateful
        rnn = dict(rnn or {})
        policy = self.dtype_policy  # sublayers follow the model's own policy, not the global one
        dropout = rnn.get("dropout", 0.0)
        self.embedding, self.embedding_dropout = embedding_with_dropout(vocab_size, embedding_dim, dropout, policy)
        self.core = RecurrentStack(**rnn, stateful=stateful, name="core", dtype=policy)
        if self.core.bidirectional:
            raise ValueError("a language model's core must be unidirectional: it predicts from the past only.")
        self.output_dropout = layers.Dropout(dropout, name="output_dropout", dtype=policy)
        self.head = OutputProjection(
            vocab_size=vocab_size,
            units=self.core.output_units,
            embedding=self.embedding,
            tie_embeddings=tie_embeddings,
            name="head",
            dtype=policy,
        )

    def build(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        self.embedding.build((batch, time))
        self.core.build((batch, time, self.embedding_dim))
        self.head.build((batch, time, self.core.output_units))
        self.built = True

    def call(self, inputs, training=None, initial_state=None, return_state=False):
        embedded = self.embedding(inputs)  # (batch, time, embedding_dim)
        embedded = self.embedding_dropout(embedded, training=training)
        hidden, state = self.core(embedded, initial_state=initial_state, training=training)
        hidden = self.output_dropout(hidden, training=training)  # (batch, time, units)
        logits = self.head(hidden)  # (batch, time, vocab)
        return (logits, state) if return_state else logits

    def step(self, token_ids, state):
        """One token per sequence: `(log_probs (batch, vocab), state)` for ids `(batch,)`.

        Start from `core.zero_state(batch)` and feed `<bos>` first.
        """
        embedded = self.embedding(token_ids)  # (batch, embedding_dim)
        hidden, state = self.core.step(embedded, state)
        return ops.log_softmax(self.head(hidden), axis=-1), state

    # The decoding interface of seq2seq.core.search (language-model generation).

    def encode(self, prompt_ids):
        """`(context, carry, first_tokens)` for prompts `(batch, length)` that start with `<bos>`.

        The core reads all prompt tokens but the last, which is the first
        input of the search; the context is empty.
        """
        state = self.core.zero_state(ops.shape(prompt_ids)[0])
        if prompt_ids.shape[1] > 1:
            embedded = self.embedding(prompt_ids[:, :-1])  # (batch, length - 1, embedding_dim)
            _, state = self.core(embedded, initial_state=state, training=False)
        return (), state, ops.cast(prompt_ids[:, -1], "int32")

    def decode_step(self, token_ids, carry, context):
        """One step: `(log_probs (batch, vocab), carry)`."""
        return self.step(token_ids, carry)

    def reset_states(self) -> None:
        self.core.reset_states()

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "rnn": core_arguments(self.core),
            "tie_embeddings": self.tie_embeddings,
            "stateful": self.stateful,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "rnn" not in config:  # written before the core's arguments were grouped (layout 1)
            config["rnn"] = {key: config.pop(key) for key in RNN_ARGUMENTS if key in config}
        return cls(**config)


def build_model(model_config, vocab_size: int, stateful: bool = False) -> RNNLanguageModel:
    """The one place where an :class:`~seq2seq.lm.config.LMModelConfig` becomes a model.

    Every key of `model.rnn` goes to the core as it is (the config's fields
    are `RecurrentStack`'s keyword arguments).
    """
    return RNNLanguageModel(
        vocab_size=vocab_size,
        embedding_dim=model_config.embedding_dim,
        rnn=dataclasses.asdict(model_config.rnn),
        tie_embeddings=model_config.tie_embeddings,
        stateful=stateful,
        name="language_model",
    )


def build_scorer(language_model: RNNLanguageModel) -> keras.Model:
    """A model mapping `{"inputs", "targets"}` id tensors to per-token log-probabilities."""
    inputs = keras.Input((None,), dtype="int32", name="inputs")
    targets = keras.Input((None,), dtype="int32", name="targets")
    logits = language_model(inputs)
    return keras.Model({"inputs": inputs, "targets": targets}, TokenLogProbs()([logits, targets]))
