"""Text files to line datasets, and lines to token ids, inside the tf.data graph."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:  # type hints only: pipelines use no model code
    from seq2seq.core.vocabulary import TokenVocabulary, Vocabulary


def read_text_lines(paths: Sequence[str | Path]) -> tf.data.Dataset:
    """Lines of text files, in order; `.gz` files are decompressed."""
    datasets = [
        tf.data.TextLineDataset(str(path), compression_type="GZIP" if str(path).endswith(".gz") else "")
        for path in paths
    ]
    dataset = datasets[0]
    for other in datasets[1:]:
        dataset = dataset.concatenate(other)
    return dataset


def lookup_table(vocab: Vocabulary) -> tf.lookup.StaticHashTable:
    """Token string -> id, unknown tokens -> `<unk>`."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(vocab.tokens), tf.range(len(vocab.tokens), dtype=tf.int32)
    )
    return tf.lookup.StaticHashTable(initializer, default_value=vocab.unk_id)


def sentencepiece_tokenizer(model_proto: bytes):
    """A tensorflow-text SentencePiece tokenizer (strings -> int32 ids) for a serialized model."""
    import tensorflow_text

    return tensorflow_text.SentencepieceTokenizer(model=model_proto, out_type=tf.int32)


def tokenize(vocab: TokenVocabulary):
    """`Dataset[str line] -> Dataset[int32 ids]` (no specials added).

    `vocab` is a word or character :class:`Vocabulary` (a lookup table) or a
    :class:`~seq2seq.core.subwords.SubwordVocabulary` (SentencePiece in the graph).
    """
    if vocab.level == "subword":
        tokenizer = sentencepiece_tokenizer(vocab.model_proto)
        return lambda dataset: dataset.map(tokenizer.tokenize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    table = lookup_table(vocab)

    def to_ids(line):
        if vocab.level == "char":
            pieces = tf.strings.unicode_split(line, "UTF-8")
        else:
            pieces = tf.strings.split(line)
        return table.lookup(pieces)

    return lambda dataset: dataset.map(to_ids, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
