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

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 256,
        rnn: dict | None = None,
        attention: str = "bahdanau",
        attention_units: int = 512,
        dropout: float = 0.0,
        **kwargs,
    ):
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
        self.attention = make_attention(
            kind=attention, units=attention_units if attention == "bahdanau" else units, dtype=policy
        )
        self.combine = (
            layers.Dense(units, activation="tanh", name="combine", dtype=policy) if attention != "none" else None
        )
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

    def _advance(self, inputs, carry, memory, keys, source_mask, training, dropout_masks, projected):
        """The recurrent part of a step: `(hidden, context, weights, carry)` (context None without attention).

        The core reads `[y_{t-1}; c_t]` (Bahdanau), `[y_{t-1}; h~_{t-1}]`
        (Luong) or `y_{t-1}`: `inputs` is y_{t-1}'s embedding, or None when
        `projected` (:meth:`RecurrentStack.project_inputs` of it) stands for it.
        """
        states, feed = carry
        if self.attention_kind == "none":
            hidden, states = self.core.step(inputs, states, training, dropout_masks, projected)
            return hidden, None, ops.zeros((ops.shape(hidden)[0], ops.shape(memory)[1]), "float32"), [states, feed]
        if self.attention_kind == "bahdanau":
            context, weights = self.attention(states[-1][0], memory, keys, source_mask)  # query: top s_{t-1}
            hidden, states = self.core.step(_join(inputs, context), states, training, dropout_masks, projected)
        else:
            hidden, states = self.core.step(_join(inputs, feed), states, training, dropout_masks, projected)
            context, weights = self.attention(hidden, memory, keys, source_mask)
        return hidden, context, weights, [states, feed]

    def _output(self, hidden, context, embedded):
        """The step's output from the core's output, the context and the input embedding (any leading axes)."""
        if self.attention_kind == "none":
            return hidden
        if self.attention_kind == "bahdanau":
            return self.combine(ops.concatenate([hidden, context, embedded], -1))
        return self.combine(ops.concatenate([context, hidden], -1))

    def step(self, embedded, carry, memory, keys, source_mask, training=None, dropout_masks=None):
        """One decoder step: `(output (batch, units), weights (batch, source_len), carry)`."""
        hidden, context, weights, (states, feed) = self._advance(
            embedded, carry, memory, keys, source_mask, training, dropout_masks, None
        )
        output = self._output(hidden, context, embedded)
        return output, weights, [states, output if self.attention_kind == "luong" else feed]

    def prepare(self, memory):
        """Attention keys computed once per source sentence (or None)."""
        return None if self.attention is None else self.attention.prepare(memory)

    def call(self, target_ids, memory, source_mask, initial_states, training=None):
        """Teacher-forced decoding of whole sequences.

        What does not depend on the previous step runs once per sequence, as
        large matrix products outside the time loop: the embeddings' part of
        the core's input product, and (except with Luong's input feeding,
        whose output is fed back) the output layer.
        """
        embedded = self.embedding_dropout(self.embedding(target_ids), training=training)  # (b, t, e)
        keys = self.prepare(memory)
        masks = self.core.step_dropout_masks(ops.shape(target_ids)[0], training)
        product, rest = self.core.project_inputs(embedded)
        product = ops.transpose(product, (1, 0, 2))  # time-major (t, b, gates)
        feeding = self.attention_kind == "luong"
        batch, source_len = ops.shape(memory)[0], ops.shape(memory)[1]

        # Keras' TensorFlow scan stacks outputs shaped like the carry, so what
        # each step emits (its output with input feeding, else the core's
        # output and the context) and its attention weights ride in the carry.
        def body(loop, product_t):
            hidden, context, weights, carry = self._advance(
                None, loop[0], memory, keys, source_mask, training, masks, (product_t, rest)
            )
            if feeding:
                hidden = self._output(hidden, context, None)
                carry = [carry[0], hidden]
            emitted = [hidden] if context is None or feeding else [hidden, context]
            loop = [carry, [ops.cast(value, "float32") for value in emitted], weights]
            return loop, loop

        widths = [self.units] if self.attention_kind != "bahdanau" else [self.units, ops.shape(memory)[-1]]
        start = [
            self.initial_carry(initial_states, memory),
            [ops.zeros((batch, width), "float32") for width in widths],
            ops.zeros((batch, source_len), "float32"),
        ]
        _, (_, emitted, weights) = ops.scan(body, start, product)
        emitted = [ops.cast(ops.transpose(value, (1, 0, 2)), self.compute_dtype) for value in emitted]  # (b, t, .)
        outputs = self._output(emitted[0], emitted[1], embedded) if len(emitted) == 2 else emitted[0]
        outputs = self.output_dropout(outputs, training=training)
        return outputs, ops.transpose(weights, (1, 0, 2))  # (batch, target_len, source_len)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "rnn": core_arguments(self.core),
            "attention": self.attention_kind,
            "attention_units": self.attention_units,
            "dropout": self.dropout,
        }


def _join(inputs, extra):
    """`[inputs; extra]` along the features, or `extra` alone when `inputs` is None."""
    return extra if inputs is None else ops.concatenate([inputs, extra], -1)
