"""The encoders: tokens (embeddings), acoustic frames and images, each feeding the shared recurrent core.

All three return `(memory, states, mask)` and offer `summary(states)` and
`output_units`, so the same decoder, bridge, search and training code serve
translation, speech recognition and image captioning. `input_key` names the
model input each reads (`source_ids` or `source_features`).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.core.embedding import embedding_with_dropout
from seq2seq.core.recurrent import RecurrentStack, core_arguments
from seq2seq.core.specials import PAD_ID


class _CoreEncoder(layers.Layer):
    """What every encoder shares: its recurrent core, `output_units`, `summary` and the core's config keys."""

    def _make_core(self, rnn: dict | None) -> RecurrentStack:
        return RecurrentStack(**{"bidirectional": True, **(rnn or {})}, name="core", dtype=self.dtype_policy)

    @property
    def output_units(self) -> int:
        """Features per memory position."""
        return self.core.output_units

    @property
    def summary_units(self) -> int:
        """Features of `summary` (the bridge's input)."""
        return self.core.output_units

    def summary(self, states):
        """The top layer's final hidden states of both directions, concatenated: `(batch, output_units)`."""
        top = states[-1]
        hidden = top[0::2] if self.core.cell == "lstm" else top  # [h, c] per direction for LSTM
        return ops.concatenate(hidden, axis=-1) if len(hidden) > 1 else hidden[0]

    def get_config(self):
        return {
            **super().get_config(),
            "embedding_dim": self.embedding_dim,
            "rnn": core_arguments(self.core),
            "dropout": self.dropout,
        }


@keras.saving.register_keras_serializable(package="seq2seq")
class RNNEncoder(_CoreEncoder):
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

    input_key = "source_ids"

    def __init__(
        self, vocab_size: int, embedding_dim: int = 256, rnn: dict | None = None, dropout: float = 0.0, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        policy = self.dtype_policy
        self.embedding, self.embedding_dropout = embedding_with_dropout(vocab_size, embedding_dim, dropout, policy)
        self.core = self._make_core(rnn)

    def build(self, source_shape):
        self.embedding.build(source_shape)
        self.core.build(tuple(source_shape) + (self.embedding_dim,))
        self.built = True

    def call(self, source_ids, training=None):
        mask = ops.not_equal(source_ids, PAD_ID)  # (batch, source_len)
        embedded = self.embedding_dropout(self.embedding(source_ids), training=training)
        outputs, states = self.core(embedded, mask=mask, training=training)
        return outputs, states, mask

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size}


@keras.saving.register_keras_serializable(package="seq2seq")
class AudioEncoder(_CoreEncoder):
    """Reads acoustic feature frames (log-mel), as the listener of Listen, Attend and Spell (Chan et al. 2016).

    Every `frame_stack` consecutive frames are concatenated into one step
    (the sequence gets that many times shorter, as LAS's pyramid does), a
    linear layer maps each step to `embedding_dim`, and the shared
    recurrent core reads the result. Padding frames are all-zero
    (`pipelines/audio.py` pads so; a real log-mel frame is never exactly
    zero in every bin), and a stacked step is padding when all its frames are.

    Args:
        features: values per frame (mel bins).
        frame_stack: frames per encoder step.
        embedding_dim, rnn, dropout: as :class:`RNNEncoder`'s (`dropout` on the projected steps).

    Call arguments:
        frames: float `(batch, frames, features)`, right-padded with all-zero frames.

    Returns:
        as :class:`RNNEncoder`, over `ceil(frames / frame_stack)` steps.
    """

    input_key = "source_features"

    def __init__(
        self,
        features: int = 40,
        frame_stack: int = 1,
        embedding_dim: int = 256,
        rnn: dict | None = None,
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.features, self.frame_stack = features, frame_stack
        self.embedding_dim, self.dropout = embedding_dim, dropout
        policy = self.dtype_policy
        self.projection = layers.Dense(embedding_dim, name="projection", dtype=policy)
        self.projection_dropout = layers.Dropout(dropout, name="projection_dropout", dtype=policy)
        self.core = self._make_core(rnn)

    def build(self, frames_shape=None):
        self.projection.build((None, None, self.features * self.frame_stack))
        self.core.build((None, None, self.embedding_dim))
        self.built = True

    def call(self, frames, training=None):
        frames = ops.cast(frames, self.compute_dtype)
        batch, length = ops.shape(frames)[0], ops.shape(frames)[1]
        padded = ops.pad(frames, [[0, 0], [0, (-length) % self.frame_stack], [0, 0]])
        stacked = ops.reshape(padded, (batch, -1, self.frame_stack * self.features))
        frame_mask = ops.reshape(ops.any(ops.not_equal(padded, 0), axis=-1), (batch, -1, self.frame_stack))
        mask = ops.any(frame_mask, axis=-1)  # (batch, steps)
        steps = self.projection_dropout(self.projection(stacked), training=training)
        outputs, states = self.core(steps, mask=mask, training=training)
        return outputs, states, mask

    def get_config(self):
        return {**super().get_config(), "features": self.features, "frame_stack": self.frame_stack}


@keras.saving.register_keras_serializable(package="seq2seq")
class ImageEncoder(_CoreEncoder):
    """Reads an image through a small convolutional network, as in Show, Attend and Tell (Xu et al. 2015).

    It has two streams. The shape stream sees no colour: its convolutions
    read only the "ink" of each pixel, whether its palest channel is far from
    white (1 - min(R, G, B) / 255 above 0.5), the same for every saturated
    colour, so a shape is learnt once whatever colour it was seen in. Each
    block of `conv_filters` is a 3x3 convolution (ReLU) and 2x2 max pooling,
    so a 64 x 64 image becomes an 8 x 8 grid with three blocks. The grid,
    flattened row by row, is projected to `embedding_dim` and read by the
    shared recurrent core (bidirectional by default, which tells every
    position where it lies, as the row encoder of Deng et al. 2017 does).
    The colour stream sees no shape: a per-pixel (1x1) layer of
    `conv_filters[0]` units on the RGB values, max-pooled onto the same grid.
    Its features join the core's outputs at each cell only after the core,
    so the shape features stay colour-blind all the way to the attention
    decoder; the memory it reads has one position per grid cell
    (`grid_shape`), so attention weights map back onto the image. (With one
    RGB network, the captioner named a red triangle, a colour-shape pair never
    seen in training, "a red circle", and captioned none of the held-out test
    scenes exactly; with the two streams mixed before the core, 29 % of them;
    as here, 91 %: see the model card of `saved_models/captions_scenes`.)

    Args:
        image_size: height and width in pixels (square images).
        channels: colour channels.
        conv_filters: filters of each convolution block.
        embedding_dim, rnn, dropout: as :class:`RNNEncoder`'s (`dropout` on the projected grid).

    Call arguments:
        images: uint8 or float `(batch, image_size, image_size, channels)`, values 0-255.

    Returns:
        as :class:`RNNEncoder`, over `grid * grid` positions (the mask is all true).
    """

    input_key = "source_features"

    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        conv_filters=(32, 64, 128),
        embedding_dim: int = 256,
        rnn: dict | None = None,
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_size, self.channels = image_size, channels
        self.conv_filters = tuple(conv_filters)
        self.embedding_dim, self.dropout = embedding_dim, dropout
        policy = self.dtype_policy
        self.convolutions = [
            layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{index}", dtype=policy)
            for index, filters in enumerate(self.conv_filters)
        ]
        self.pooling = layers.MaxPooling2D(2, name="pool", dtype=policy)
        self.colour = layers.Dense(self.conv_filters[0], activation="relu", name="colour", dtype=policy)
        self.colour_pooling = layers.MaxPooling2D(2 ** len(self.conv_filters), name="colour_pool", dtype=policy)
        self.projection = layers.Dense(embedding_dim, name="projection", dtype=policy)
        self.projection_dropout = layers.Dropout(dropout, name="projection_dropout", dtype=policy)
        self.core = self._make_core(rnn)

    @property
    def output_units(self) -> int:
        return self.core.output_units + self.conv_filters[0]  # the core's outputs and the colour features

    @property
    def grid_shape(self) -> tuple[int, int]:
        side = self.image_size // 2 ** len(self.conv_filters)
        return side, side

    def build(self, images_shape=None):
        size, channels = self.image_size, 1  # the shape stream reads ink only
        for convolution in self.convolutions:
            convolution.build((None, size, size, channels))
            size, channels = size // 2, convolution.filters
        self.colour.build((None, self.image_size, self.image_size, self.channels))
        self.projection.build((None, None, channels))
        self.core.build((None, None, self.embedding_dim))
        self.built = True

    def call(self, images, training=None):
        pixels = ops.cast(images, self.compute_dtype) / 255.0
        grid = ops.cast(ops.min(pixels, axis=-1, keepdims=True) < 0.5, self.compute_dtype)  # ink
        for convolution in self.convolutions:
            grid = self.pooling(convolution(grid))
        batch, rows, columns = ops.shape(grid)[0], self.grid_shape[0], self.grid_shape[1]
        cells = rows * columns
        positions = ops.reshape(grid, (batch, cells, self.conv_filters[-1]))
        mask = ops.ones((batch, cells), dtype="bool")
        steps = self.projection_dropout(self.projection(positions), training=training)
        outputs, states = self.core(steps, mask=mask, training=training)
        colours = ops.reshape(self.colour_pooling(self.colour(pixels)), (batch, cells, self.colour.units))
        return ops.concatenate([outputs, ops.cast(colours, outputs.dtype)], axis=-1), states, mask

    def get_config(self):
        return {
            **super().get_config(),
            "image_size": self.image_size,
            "channels": self.channels,
            "conv_filters": list(self.conv_filters),
        }


ENCODERS = {"tokens": RNNEncoder, "audio": AudioEncoder, "image": ImageEncoder}
