"""Translation pipelines: parallel text or tfds pairs to bucketed, token-batched id tensors.

Every source yields `(source_text, target_text)` string pairs; the steps below
are `Dataset -> Dataset` functions chained with `apply`:

    pairs.apply(tokenize_pairs(source_spm, target_spm))
         .apply(to_model_inputs(bos_id, eos_id))
         .apply(filter_by_length(max_source, max_target))
         .apply(bucket_by_tokens(max_tokens, boundaries))
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from seq2seq.errors import UserError
from seq2seq.textio import check_utf8


def parallel_text_files(source_path: str | Path, target_path: str | Path) -> tf.data.Dataset:
    """Line N of `source_path` paired with line N of `target_path` (plain or `.gz`).

    Both files are checked first: invalid UTF-8 names the file and line, and
    different line counts name both files and both counts.
    """
    from pipelines.text import read_text_lines

    source_count, target_count = check_utf8(source_path), check_utf8(target_path)
    if source_count != target_count:
        raise UserError(
            f"parallel files differ in length: {source_path} has {source_count} lines, "
            f"{target_path} has {target_count}. Line N of one must translate line N of the other."
        )
    if source_count == 0:
        raise UserError(f"{source_path}: the file is empty.")
    return tf.data.Dataset.zip((read_text_lines([source_path]), read_text_lines([target_path])))


def tfds_translation(
    name: str, split: str, source_language: str, target_language: str, data_dir: str | None = None
) -> tf.data.Dataset:
    """`(source, target)` string pairs from a tensorflow-datasets translation dataset.

    `name` is a registered dataset (`wmt14_translate/de-en`), which must
    already be prepared in `data_dir` (nothing is downloaded here), or
    `folder:PATH`, a local corpus read through `tfds.folder_dataset.TranslateFolder`
    (files `PATH/<language>.<split>.txt`, one sentence per line, no other files;
    whole splits only). Errors list the languages, configs and splits that exist.
    """
    import tensorflow_datasets as tfds

    try:
        if name.startswith("folder:"):
            folder = name[len("folder:") :]
            if not Path(folder).is_dir():
                raise FileNotFoundError(f"folder {folder} not found")
            builder = tfds.folder_dataset.TranslateFolder(folder)
        else:
            builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # unknown name or config, unreadable folder
        raise UserError(f"tfds dataset {name!r}: {str(error).splitlines()[0]}") from None
    features = builder.info.features
    languages = list(getattr(features, "keys", lambda: [])())
    if source_language not in languages or target_language not in languages:
        configs = [config.name for config in (builder.BUILDER_CONFIGS or [])]
        raise UserError(
            f"tfds dataset {name!r} has languages {languages}, not {source_language!r} and "
            f"{target_language!r}. Configs of this dataset: {configs or 'none'}."
        )
    splits = list(builder.info.splits.keys())
    base_split = split.split("[")[0].split("+")[0]
    if splits and base_split not in splits:  # splits are known once the dataset is prepared
        raise UserError(f"tfds dataset {name!r} has no split {split!r}; it has {splits}.")
    try:
        dataset = builder.as_dataset(split=split, shuffle_files=False)
    except (AssertionError, ValueError) as error:
        raise UserError(
            f"tfds dataset {name!r}, split {split!r}: {str(error).splitlines()[0]} "
            "(prepare it first with tfds build, where downloading is possible)."
        ) from None
    return dataset.map(
        lambda example: (example[source_language], example[target_language]), num_parallel_calls=tf.data.AUTOTUNE
    )


def tokenize_pairs(source_model: bytes, target_model: bytes):
    """`(source, target)` strings -> int32 subword ids, with SentencePiece in the graph."""
    from pipelines.text import sentencepiece_tokenizer

    source = sentencepiece_tokenizer(source_model)
    target = source if target_model == source_model else sentencepiece_tokenizer(target_model)
    return lambda dataset: dataset.map(
        lambda s, t: (source.tokenize(s), target.tokenize(t)), num_parallel_calls=tf.data.AUTOTUNE
    )


def sampled_tokenize_pairs(source_model: bytes, target_model: bytes, alpha: float, seed):
    """`(source, target)` strings -> int32 subword ids of a *sampled* segmentation (subword regularization:
    Kudo 2018; BPE-dropout, Provilkov et al. 2020), with SentencePiece in Python.

    Each pair's segmentation depends only on `seed` (an int64 scalar tensor,
    e.g. the epoch's) and its text, whatever the order or parallelism, so an
    epoch read again after a resume is segmented the same (SentencePiece's
    generator is seeded per pair, under a lock).
    """
    import threading
    import zlib

    import sentencepiece

    source = sentencepiece.SentencePieceProcessor(model_proto=source_model)
    target = source if target_model == source_model else sentencepiece.SentencePieceProcessor(model_proto=target_model)
    lock = threading.Lock()

    def sample(epoch_seed, source_text, target_text):
        texts = source_text.numpy().decode("utf-8"), target_text.numpy().decode("utf-8")
        pair_seed = zlib.crc32("\t".join(texts).encode("utf-8"), int(epoch_seed.numpy()) & 0xFFFFFFFF)
        with lock:
            sentencepiece.set_random_generator_seed(pair_seed)
            ids = [
                model.encode(text, enable_sampling=True, alpha=alpha, nbest_size=-1)
                for model, text in zip((source, target), texts)
            ]
        return [tf.constant(part, tf.int32) for part in ids]

    def tokenize(s, t):
        source_ids, target_ids = tf.py_function(sample, [seed, s, t], [tf.int32, tf.int32])
        return tf.ensure_shape(source_ids, [None]), tf.ensure_shape(target_ids, [None])

    return lambda dataset: dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def to_model_inputs(bos_id: int, eos_id: int):
    """`(source_ids, target_ids)` -> `({"source_ids", "target_inputs"}, targets)`.

    Decoder inputs are `<bos> y1 .. yn`, targets `y1 .. yn <eos>`.
    """
    bos = tf.constant([bos_id], tf.int32)
    eos = tf.constant([eos_id], tf.int32)
    return lambda dataset: dataset.map(
        lambda s, t: ({"source_ids": s, "target_inputs": tf.concat([bos, t], 0)}, tf.concat([t, eos], 0)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def _lengths(inputs, targets):
    return tf.size(inputs["source_ids"]), tf.size(targets)


def filter_by_length(max_source: int, max_target: int):
    """Keeps pairs with 1..max_source source tokens and at most max_target target tokens (with <eos>)."""

    def keep(inputs, targets):
        source_len, target_len = _lengths(inputs, targets)
        return (source_len >= 1) & (source_len <= max_source) & (target_len <= max_target)

    return lambda dataset: dataset.filter(keep)


def count_filtered(dataset: tf.data.Dataset, max_source: int, max_target: int) -> tuple[int, int]:
    """`(kept, total)` pairs for `filter_by_length` (one pass over the data)."""

    def add(counts, element):
        source_len, target_len = _lengths(*element)
        kept = (source_len >= 1) & (source_len <= max_source) & (target_len <= max_target)
        return counts + tf.stack([tf.cast(kept, tf.int64), tf.constant(1, tf.int64)])

    kept, total = dataset.reduce(tf.zeros(2, tf.int64), add).numpy().tolist()
    return int(kept), int(total)


def bucket_by_tokens(max_tokens: int, boundaries: list[int]):
    """Groups pairs of similar length; each batch holds about `max_tokens` padded tokens.

    A pair goes to the first bucket whose boundary exceeds its longer side;
    the batch size of a bucket is `max_tokens // (boundary - 1)`. Sequences
    are padded to the bucket's length, so a compiled model sees one shape per
    bucket. Pairs must be shorter than the last boundary (filter first).
    """
    sizes = [max(1, max_tokens // max(1, boundary - 1)) for boundary in boundaries]
    sizes.append(sizes[-1])

    def length(inputs, targets):
        return tf.maximum(tf.size(inputs["source_ids"]), tf.size(targets))

    return lambda dataset: dataset.bucket_by_sequence_length(
        length,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=sizes,
        pad_to_bucket_boundary=True,
        drop_remainder=False,
    )
