"""Language-model pipelines: a continuous token stream in windows, or one line per example."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

from seq2seq.errors import UserError

if TYPE_CHECKING:  # type hints only: pipelines use no model code
    from seq2seq.core.vocabulary import TokenVocabulary


def next_token_pairs(vocab: TokenVocabulary):
    """`Dataset[ids] -> Dataset[(inputs, targets)]`: inputs `<bos> w1..wn`, targets `w1..wn <eos>`.

    Every sentence is predicted as words plus `<eos>`, the token count used
    for the standard Penn Treebank perplexity; `<bos>` is only ever an input.
    """
    bos = tf.constant([vocab.bos_id], tf.int32)
    eos = tf.constant([vocab.eos_id], tf.int32)
    return lambda dataset: dataset.map(
        lambda ids: (tf.concat([bos, ids], 0), tf.concat([ids, eos], 0)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def stream_windows(batch_size: int, window_length: int, name: str = "text"):
    """`Dataset[(inputs, targets)] -> Dataset[(inputs, targets)]` of `(batch, window)` windows.

    All sentences are joined into one stream that is cut into `batch_size`
    equal parallel streams; window k of every stream forms batch k, so a
    stateful model carries its state from each window into the next
    (truncated back-propagation through time, Zaremba et al. 2014). The tail
    that does not fill a window is dropped.
    """

    def apply(pairs: tf.data.Dataset) -> tf.data.Dataset:
        everything = pairs.ragged_batch(1 << 30).get_single_element()
        inputs, targets = everything[0].flat_values, everything[1].flat_values  # (tokens,)
        per_stream = int(tf.size(inputs)) // batch_size
        windows = per_stream // window_length
        if windows < 1:
            raise UserError(
                f"{name}: {int(tf.size(inputs))} tokens are too few for batch_size="
                f"{batch_size} x window_length={window_length}; use smaller values."
            )
        used = batch_size * windows * window_length

        def cut(stream):
            stream = tf.reshape(stream[:used], (batch_size, windows, window_length))
            return tf.transpose(stream, (1, 0, 2))  # (windows, batch, window)

        return tf.data.Dataset.from_tensor_slices((cut(inputs), cut(targets)))

    return apply


def sentence_batches(batch_size: int, length_multiple: int = 16):
    """`Dataset[(inputs, targets)] -> Dataset[(inputs, targets)]` padded with 0, in input order.

    Lengths are padded up to a multiple of `length_multiple`, so a compiled
    model sees few distinct shapes (and traces few graphs).
    """

    def pad_to_multiple(inputs, targets):
        length = tf.shape(inputs)[1]
        extra = (length_multiple - length % length_multiple) % length_multiple
        padding = [[0, 0], [0, extra]]
        return tf.pad(inputs, padding), tf.pad(targets, padding)

    return lambda dataset: dataset.padded_batch(batch_size, padded_shapes=([None], [None])).map(pad_to_multiple)
