"""The target-side decoder: a conditional language model on the shared recurrent core."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.core.attention import ATTENTIONS, make_attention
from seq2seq.core.embedding import embedding_with_dropout
from seq2seq.core.recurrent import RecurrentStack, core_arguments


@keras.saving.register_keras_serializable(package="seq2seq")
class RNNDecoder(layers.Layer):
    """Generates the target one token at a time, attending to the encoder outputs.

    - `attention="none"`: s_t = core(y_{t-1}, s_{t-1}); the output is s_t
      (Sutskever et al. 2014; Cho et al. 2014 start s_0 from the source summary).
    - `"bahdanau"`: c_t = attend(s_{t-1}) with additive scores;
      s_t = core([y_{t-1}; c_t], s_{t-1}); output tanh(W·[s_t; c_t; y_{t-1}])
      (Bahdanau et al. 2015).
    - `"luong"`: s_t = core([y_{t-1}; h~_{t-1}], s_{t-1}) (input feeding);
      c_t = attend(s_t) with multiplicative scores; h~_t = tanh(W_c·[c_t; s_t])
      is the output (Luong et al. 2015).

    The vocabulary projection lives in the model, outside the time loop, so it
    runs as one large matrix product.

    Args:
        vocab_size: target vocabulary size (id 0 is padding).
        embedding_dim: target embedding size.
        rnn: keyword arguments of the core, :class:`~seq2seq.core.recurrent.RecurrentStack`
            (unidirectional).
        dropout: dropout rate on the embeddings and the outputs.
        attention: "none", "bahdanau" or "luong".
        attention_units: hidden size of the additive score.

    Call arguments:
        target_ids: int `(batch, target_len)`, the decoder inputs (`<bos> y1 ...`).
        memory: `(batch, source_len, memory_dim)` encoder outputs.
        source_mask: boolean `(batch, source_len)`.
        initial_states: the core's initial states (from the bridge).

    Returns:
        `(outputs, attention_weights)`: `(batch, target_len, units)` and
        `(batch, target_len, source_len)` (zeros without attention).
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 256, rnn: dict | None = None,
                 attention: str = "bahdanau", attention_units: int = 512, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if attention not in ATTENTIONS:
            raise ValueError(f"`attention` must be one of {ATTENTIONS}. Received: attention={attention!r}")
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.attention_kind = attention
        self.attention_units = attention_units
        self.dropout = dropout
        policy = self.dtype_policy
        self.embedding, self.embedding_dropout = embedding_with_dropout(vocab_size, embedding_dim, dropout, policy)
        self.core = RecurrentStack(**(rnn or {}), name="core", dtype=policy)
        if self.core.bidirectional:
            raise ValueError("the decoder's core must be unidirectional: it generates left to right.")
        units = self.core.units
        self.attention = make_attention(kind=attention, units=attention_units if attention == "bahdanau" else units,
                                        dtype=policy)
        self.combine = (layers.Dense(units, activation="tanh", name="combine", dtype=policy)
                        if attention != "none" else None)
        self.output_dropout = layers.Dropout(dropout, name="output_dropout", dtype=policy)

    @property
    def units(self) -> int:
        return self.core.units

    def _feed_units(self, memory_units: int) -> int:
        """Size of what is fed into the core besides the embedding."""
        return {"none": 0, "bahdanau": memory_units, "luong": self.units}[self.attention_kind]

    def build(self, target_shape, memory_shape):
        batch = target_shape[0]
        memory_units = memory_shape[-1]
        self.embedding.build(target_shape)
        self.core.build((batch, None, self.embedding_dim + self._feed_units(memory_units)))
        if self.attention is not None:
            self.attention.build((batch, self.units), memory_shape)
            combined = self.units + memory_units + (self.embedding_dim if self.attention_kind == "bahdanau" else 0)
            self.combine.build((batch, combined))
        self.built = True

    def initial_carry(self, initial_states, memory):
        """The loop state: the core's states and the fed-back vector (Luong's h~, or nothing)."""
        batch = ops.shape(memory)[0]
        feed = ops.zeros((batch, self.units if self.attention_kind == "luong" else 1), dtype=memory.dtype)
        return [initial_states, feed]

    def step(self, embedded, carry, memory, keys, source_mask, training=None, dropout_masks=None):
        """One decoder step: `(output (batch, units), weights (batch, source_len), carry)`."""
        states, feed = carry
        source_len = ops.shape(memory)[1]
        if self.attention_kind == "none":
            output, states = self.core.step(embedded, states, training, dropout_masks)
            weights = ops.zeros((ops.shape(embedded)[0], source_len), "float32")
        elif self.attention_kind == "bahdanau":
            query = states[-1][0]  # top layer's s_{t-1}
            context, weights = self.attention(query, memory, keys, source_mask)
            hidden, states = self.core.step(ops.concatenate([embedded, context], -1), states, training,
                                            dropout_masks)
            output = self.combine(ops.concatenate([hidden, context, embedded], -1))
        else:
            hidden, states = self.core.step(ops.concatenate([embedded, feed], -1), states, training,
                                            dropout_masks)
            context, weights = self.attention(hidden, memory, keys, source_mask)
            output = self.combine(ops.concatenate([context, hidden], -1))
            feed = output
        return output, weights, [states, feed]

    def prepare(self, memory):
        """Attention keys computed once per source sentence (or None)."""
        return None if self.attention is None else self.attention.prepare(memory)

    def call(self, target_ids, memory, source_mask, initial_states, training=None):
        embedded = self.embedding_dropout(self.embedding(target_ids), training=training)  # (b, t, e)
        keys = self.prepare(memory)
        masks = self.core.step_dropout_masks(ops.shape(target_ids)[0], training)

        batch, source_len = ops.shape(memory)[0], ops.shape(memory)[1]

        # Keras' TensorFlow scan stacks outputs shaped like the carry, so each
        # step's output and attention weights ride along in the carry.
        def body(loop, embedded_t):
            output, weights, carry = self.step(embedded_t, loop[0], memory, keys, source_mask,
                                               training, masks)
            loop = [carry, ops.cast(output, "float32"), weights]
            return loop, loop

        start = [self.initial_carry(initial_states, memory), ops.zeros((batch, self.units), "float32"),
                 ops.zeros((batch, source_len), "float32")]
        _, (_, outputs, weights) = ops.scan(body, start, ops.transpose(embedded, (1, 0, 2)))  # time-major
        outputs = ops.cast(ops.transpose(outputs, (1, 0, 2)), self.compute_dtype)  # (batch, target_len, units)
        outputs = self.output_dropout(outputs, training=training)
        return outputs, ops.transpose(weights, (1, 0, 2))  # (batch, target_len, source_len)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "rnn": core_arguments(self.core), "attention": self.attention_kind,
                "attention_units": self.attention_units, "dropout": self.dropout}
