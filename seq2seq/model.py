"""The encoder-decoder translation model."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.decoders import RNNDecoder
from seq2seq.encoders import RNNEncoder


@keras.saving.register_keras_serializable(package="seq2seq")
class Seq2SeqModel(keras.Model):
    """Encoder, bridge, decoder and output layer.

    The encoder reads the whole source before the decoder emits anything. The
    bridge maps the encoder's final top-layer states (both directions) through
    a learned `tanh` projection to every initial state of every decoder layer,
    so encoder and decoder may differ in cell, size, depth and direction.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes (id 0 is padding).
        embedding_dim: size of source and target embeddings.
        encoder_cell, encoder_units, encoder_layers, bidirectional: the encoder core.
        decoder_cell, decoder_units, decoder_layers: the decoder core.
        attention: "none", "bahdanau" or "luong"; attention_units: additive score size.
        dropout: on embeddings, between layers and on decoder outputs.
        tie_embeddings: the output matrix is the target embedding matrix
            (with a linear projection when `decoder_units != embedding_dim`).

    Call arguments:
        inputs: dict with int `source_ids` `(batch, source_len)` and
            `target_inputs` `(batch, target_len)` (`<bos> y1 ... yn`), 0-padded.

    Returns:
        float32 logits `(batch, target_len, target_vocab_size)`.
    """

    def __init__(self, source_vocab_size: int, target_vocab_size: int, embedding_dim: int = 256,
                 encoder_cell: str = "gru", encoder_units: int = 256, encoder_layers: int = 1,
                 bidirectional: bool = True, decoder_cell: str = "gru", decoder_units: int = 512,
                 decoder_layers: int = 1, attention: str = "bahdanau", attention_units: int = 512,
                 dropout: float = 0.0, tie_embeddings: bool = False, **kwargs):
        super().__init__(**kwargs)
        self._arguments = dict(
            source_vocab_size=source_vocab_size, target_vocab_size=target_vocab_size,
            embedding_dim=embedding_dim, encoder_cell=encoder_cell, encoder_units=encoder_units,
            encoder_layers=encoder_layers, bidirectional=bidirectional, decoder_cell=decoder_cell,
            decoder_units=decoder_units, decoder_layers=decoder_layers, attention=attention,
            attention_units=attention_units, dropout=dropout, tie_embeddings=tie_embeddings)
        policy = self.dtype_policy
        self.encoder = RNNEncoder(source_vocab_size, embedding_dim, encoder_cell, encoder_units,
                                  encoder_layers, bidirectional, dropout, name="encoder", dtype=policy)
        self.decoder = RNNDecoder(target_vocab_size, embedding_dim, decoder_cell, decoder_units,
                                  decoder_layers, dropout, attention=attention,
                                  attention_units=attention_units, name="decoder", dtype=policy)
        core = self.decoder.core
        self.bridge = layers.Dense(decoder_units * decoder_layers * core.states_per_layer,
                                   activation="tanh", name="bridge", dtype=policy)
        self.tie_embeddings = tie_embeddings
        self.target_vocab_size = target_vocab_size
        if tie_embeddings:
            self.projection = (layers.Dense(embedding_dim, use_bias=False, name="projection", dtype=policy)
                               if decoder_units != embedding_dim else None)
            self.output_layer = None
        else:
            self.projection = None
            self.output_layer = layers.Dense(target_vocab_size, name="output", dtype=policy)

    def build(self, input_shape=None):
        batch = None
        self.encoder.build((batch, None))
        memory_shape = (batch, None, self.encoder.output_units)
        self.decoder.build((batch, None), memory_shape)
        self.bridge.build((batch, self.encoder.output_units))
        units = self.decoder.units
        if self.projection is not None:
            self.projection.build((batch, None, units))
        if self.tie_embeddings:
            self.output_bias = self.add_weight(shape=(self.target_vocab_size,), initializer="zeros",
                                               name="output_bias")
        else:
            self.output_layer.build((batch, None, units))
        self.built = True

    def bridge_states(self, encoder_states):
        """Decoder initial states from the encoder's final states."""
        core = self.decoder.core
        flat = self.bridge(self.encoder.summary(encoder_states))  # (batch, layers * states * units)
        pieces = ops.split(flat, core.num_layers * core.states_per_layer, axis=-1)
        per_layer = core.states_per_layer
        return [pieces[i * per_layer:(i + 1) * per_layer] for i in range(core.num_layers)]

    def output_logits(self, outputs):
        """float32 logits `(..., vocab)` for decoder outputs `(..., units)`."""
        if self.tie_embeddings:
            if self.projection is not None:
                outputs = self.projection(outputs)
            matrix = ops.cast(self.decoder.embedding.embeddings, outputs.dtype)
            logits = ops.matmul(outputs, ops.transpose(matrix)) + ops.cast(self.output_bias, outputs.dtype)
        else:
            logits = self.output_layer(outputs)
        return ops.cast(logits, "float32")

    def call(self, inputs, training=None, return_attention=False):
        memory, states, source_mask = self.encoder(inputs["source_ids"], training=training)
        outputs, weights = self.decoder(inputs["target_inputs"], memory, source_mask,
                                        self.bridge_states(states), training=training)
        logits = self.output_logits(outputs)  # (batch, target_len, vocab)
        return (logits, weights) if return_attention else logits

    def encode(self, source_ids):
        """What decoding needs from the source: `(memory, keys, source_mask, carry)`."""
        memory, states, source_mask = self.encoder(source_ids, training=False)
        carry = self.decoder.initial_carry(self.bridge_states(states), memory)
        return memory, self.decoder.prepare(memory), source_mask, carry

    def decode_step(self, token_ids, carry, memory, keys, source_mask):
        """One step of inference: `(log_probs (batch, vocab), attention weights, carry)`."""
        embedded = self.decoder.embedding(token_ids)  # (batch, embedding_dim)
        output, weights, carry = self.decoder.step(embedded, carry, memory, keys, source_mask)
        log_probs = ops.log_softmax(self.output_logits(output), axis=-1)
        return log_probs, weights, carry

    def get_config(self):
        return {**super().get_config(), **self._arguments}
