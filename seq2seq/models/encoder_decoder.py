"""The encoder-decoder (translation, speech recognition, captioning), and `build_model`, where its config becomes it."""

from __future__ import annotations

import dataclasses

import keras
from keras import layers, ops

from seq2seq.core.output import OutputProjection
from seq2seq.core.specials import BOS_ID, PAD_ID, UNK_ID
from seq2seq.models.decoder import RNNDecoder
from seq2seq.models.encoders import ENCODERS


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
        encoder, decoder: keyword arguments of each side's
            :class:`~seq2seq.core.recurrent.RecurrentStack` (the fields of
            :class:`~seq2seq.config.RNNConfig`); the encoder is bidirectional
            unless told otherwise, the decoder never.
        attention: "none", "bahdanau" or "luong"; attention_units: additive score size.
        dropout: on the embeddings and the decoder outputs (each core's own
            `dropout` acts between its stacked layers).
        tie_embeddings: the output matrix is the target embedding matrix
            (with a linear projection when the decoder's units differ from `embedding_dim`).
        word_dropout: in training, each decoder input token after `<bos>`
            becomes `<unk>` with this probability (Bowman et al. 2016), so
            the decoder leans on what it attends to more than on the words
            it has written; 0 in the shipped translation configs. At 1.0 the
            decoder never reads its words, in training or in search: each
            step sees `<unk>` (or `<bos>` first), its own state and what it
            attends to.
        source: what the encoder reads: None or `{"input": "tokens"}` for
            text (`source_vocab_size` ids); `{"input": "audio", "features",
            "frame_stack"}` for log-mel frames; `{"input": "image",
            "image_size", "channels", "conv_filters"}` for images (see
            :mod:`seq2seq.models.encoders`; `source_vocab_size` is unused).

    Call arguments:
        inputs: dict with the source, int `source_ids` `(batch, source_len)`
            (0-padded) or float `source_features` (frames or images), and
            int `target_inputs` `(batch, target_len)` (`<bos> y1 ... yn`), 0-padded.

    Returns:
        float32 logits `(batch, target_len, target_vocab_size)`.
    """

    def __init__(
        self,
        source_vocab_size: int,
        target_vocab_size: int,
        embedding_dim: int = 256,
        encoder: dict | None = None,
        decoder: dict | None = None,
        attention: str = "bahdanau",
        attention_units: int = 512,
        dropout: float = 0.0,
        tie_embeddings: bool = False,
        source: dict | None = None,
        word_dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source_vocab_size, self.target_vocab_size = source_vocab_size, target_vocab_size
        self.embedding_dim = embedding_dim
        self.tie_embeddings = tie_embeddings
        self.word_dropout = word_dropout
        self.word_dropout_seed = keras.random.SeedGenerator(1) if word_dropout else None
        policy = self.dtype_policy
        self.source = dict(source or {"input": "tokens"})
        options = {key: value for key, value in self.source.items() if key != "input"}
        if self.source["input"] == "tokens":
            options["vocab_size"] = source_vocab_size
        self.encoder = ENCODERS[self.source["input"]](
            **options, embedding_dim=embedding_dim, rnn=encoder, dropout=dropout, name="encoder", dtype=policy
        )
        self.decoder = RNNDecoder(
            vocab_size=target_vocab_size,
            embedding_dim=embedding_dim,
            rnn=decoder,
            attention=attention,
            attention_units=attention_units,
            dropout=dropout,
            name="decoder",
            dtype=policy,
        )
        core = self.decoder.core
        self.bridge = layers.Dense(
            core.units * core.num_layers * core.states_per_layer, activation="tanh", name="bridge", dtype=policy
        )
        self.head = OutputProjection(
            vocab_size=target_vocab_size,
            units=core.units,
            embedding=self.decoder.embedding,
            tie_embeddings=tie_embeddings,
            name="head",
            dtype=policy,
        )

    def build(self, input_shape=None):
        batch = None
        self.encoder.build((batch, None))
        memory_shape = (batch, None, self.encoder.output_units)
        self.decoder.build((batch, None), memory_shape)
        self.bridge.build((batch, self.encoder.summary_units))
        self.head.build((batch, None, self.decoder.units))
        self.built = True

    def bridge_states(self, encoder_states):
        """Decoder initial states from the encoder's final states."""
        core = self.decoder.core
        flat = self.bridge(self.encoder.summary(encoder_states))  # (batch, layers * states * units)
        pieces = ops.split(flat, core.num_layers * core.states_per_layer, axis=-1)
        per_layer = core.states_per_layer
        return [pieces[i * per_layer : (i + 1) * per_layer] for i in range(core.num_layers)]

    def call(self, inputs, training=None, return_attention=False):
        outputs, weights = self.attend(inputs, training)
        logits = self.head(outputs)  # (batch, target_len, vocab)
        return (logits, weights) if return_attention else logits

    def attend(self, inputs, training=None):
        """`(decoder outputs (batch, target_len, units), attention weights)` of `call`, before the output layer."""
        memory, states, source_mask = self.encoder(inputs[self.encoder.input_key], training=training)
        target_inputs = inputs["target_inputs"]
        if self.word_dropout == 1.0 or (training and self.word_dropout):
            dropped = keras.random.uniform(ops.shape(target_inputs), seed=self.word_dropout_seed) < self.word_dropout
            dropped = ops.logical_and(
                dropped, ops.logical_and(ops.not_equal(target_inputs, BOS_ID), ops.not_equal(target_inputs, PAD_ID))
            )
            target_inputs = ops.where(dropped, UNK_ID, target_inputs)
        return self.decoder(target_inputs, memory, source_mask, self.bridge_states(states), training=training)

    # The decoding interface of seq2seq.core.search: encode once, then one step per token.

    def encode(self, source):
        """`(context, carry, first_tokens)`: what every step reads, the loop state, `<bos>` per row."""
        memory, states, source_mask = self.encoder(source, training=False)
        carry = self.decoder.initial_carry(self.bridge_states(states), memory)
        first = ops.full((ops.shape(source)[0],), BOS_ID, "int32")
        return (memory, self.decoder.prepare(memory), source_mask), carry, first

    def decode_step(self, token_ids, carry, context):
        """One step of inference: `(log_probs (batch, vocab), carry)`."""
        memory, keys, source_mask = context
        if self.word_dropout == 1.0:  # a decoder that never reads its words (see the class doc)
            token_ids = ops.where(ops.equal(token_ids, BOS_ID), BOS_ID, UNK_ID)
        embedded = self.decoder.embedding(token_ids)  # (batch, embedding_dim)
        output, _, carry = self.decoder.step(embedded, carry, memory, keys, source_mask)
        return ops.log_softmax(self.head(output), axis=-1), carry

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "encoder": self.encoder.get_config()["rnn"],
            "decoder": self.decoder.get_config()["rnn"],
            "attention": self.decoder.attention_kind,
            "attention_units": self.decoder.attention_units,
            "dropout": self.encoder.dropout,
            "tie_embeddings": self.tie_embeddings,
            **({"source": self.source} if self.source["input"] != "tokens" else {}),
            **({"word_dropout": self.word_dropout} if self.word_dropout else {}),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "encoder_cell" in config:  # written before the cores' arguments were grouped (layout 1)
            dropout = config.get("dropout", 0.0)  # then one rate for everything
            config["encoder"] = {
                "cell": config.pop("encoder_cell"),
                "units": config.pop("encoder_units"),
                "num_layers": config.pop("encoder_layers"),
                "bidirectional": config.pop("bidirectional"),
                "dropout": dropout,
            }
            config["decoder"] = {
                "cell": config.pop("decoder_cell"),
                "units": config.pop("decoder_units"),
                "num_layers": config.pop("decoder_layers"),
                "dropout": dropout,
            }
        return cls(**config)


def build_model(
    model_config, source_vocab_size: int, target_vocab_size: int, source: dict | None = None
) -> Seq2SeqModel:
    """The one place where a :class:`~seq2seq.translation.config.TranslationModelConfig` becomes a model.

    `model.decoder` goes to its core whole and `model.encoder`'s `RNNConfig`
    keys to the encoder's (their fields are `RecurrentStack`'s keyword
    arguments); the other keys map one to one. `model.encoder.input` picks
    the encoder; `source` adds what the data decide for feature inputs
    (`features` per audio frame, `image_size` and `channels`), and
    `model.encoder.frame_stack` / `conv_filters` complete it.
    """
    encoder = model_config.encoder
    spec = {"input": encoder.input, **(source or {})}
    if encoder.input == "audio":
        spec["frame_stack"] = encoder.frame_stack
    elif encoder.input == "image":
        spec["conv_filters"] = list(encoder.conv_filters)
    return Seq2SeqModel(
        source_vocab_size=source_vocab_size,
        target_vocab_size=target_vocab_size,
        embedding_dim=model_config.embedding_dim,
        encoder=encoder.core,
        decoder=dataclasses.asdict(model_config.decoder),
        attention=model_config.attention,
        attention_units=model_config.attention_units,
        dropout=model_config.dropout,
        tie_embeddings=model_config.tie_embeddings,
        source=spec,
        word_dropout=model_config.word_dropout,
        name="seq2seq",
    )
