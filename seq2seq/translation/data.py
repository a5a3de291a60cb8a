"""Training data of a translation config: corpora as string pairs, weighted mixing, vocabularies, batches.

Every corpus of `data.train`, `data.valid` and `data.test` is read as a
stream of `(source, target)` string pairs (local files or tfds), never loaded
into memory. With several training corpora, each is repeated without end and
`tf.data.Dataset.sample_from_datasets` draws from them in proportion to their
weights; an epoch is then `training.steps_per_epoch` batches.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import tensorflow as tf

from pipelines import translation as pipes
from seq2seq.core.subwords import SubwordVocabulary, train_sentencepiece
from seq2seq.errors import UserError
from seq2seq.translation.config import CorpusConfig, TranslationConfig

SPLITS = ("train", "valid", "test")


def corpus_pairs(config: TranslationConfig, corpus: CorpusConfig) -> tf.data.Dataset:
    """`(source, target)` string pairs of one corpus (its `tag` before each source)."""
    data = config.data
    if corpus.tfds is not None:
        pairs = pipes.tfds_translation(
            corpus.tfds, corpus.split, data.source_language, data.target_language, data.tfds_data_dir
        )
    else:
        pairs = pipes.parallel_text_files(*data.files(corpus.prefix))
    if corpus.tag:
        pairs = pairs.map(lambda source, target: (tf.strings.join([corpus.tag, source], " "), target))
    return pairs


def string_pairs(config: TranslationConfig, split: str):
    """All `(source, target)` string pairs of a split, corpus after corpus (None if it has none)."""
    datasets = [corpus_pairs(config, corpus) for corpus in getattr(config.data, split)]
    if not datasets:
        return None
    return _concatenate(datasets)


def _concatenate(datasets: list[tf.data.Dataset]) -> tf.data.Dataset:
    joined = datasets[0]
    for other in datasets[1:]:
        joined = joined.concatenate(other)
    return joined


def weighted_mixture(datasets: list[tf.data.Dataset], weights: list[float], seed: int) -> tf.data.Dataset:
    """One dataset drawing from `datasets` (each repeated without end) in proportion to `weights`.

    A single dataset is returned as it is (finite: one pass is an epoch).
    """
    if len(datasets) == 1:
        return datasets[0]
    total = sum(weights)
    return tf.data.Dataset.sample_from_datasets(
        [dataset.repeat() for dataset in datasets], weights=[weight / total for weight in weights], seed=seed
    )


def decoded_pairs(dataset, limit: int | None = None) -> list[tuple[str, str]]:
    """A dataset of `(source, target)` byte strings as Python string pairs (at most `limit`)."""
    return [(s.decode("utf-8"), t.decode("utf-8")) for s, t in itertools.islice(dataset.as_numpy_iterator(), limit)]


def text_pairs(config: TranslationConfig, split: str, limit: int | None = None) -> list[tuple[str, str]]:
    """The split's `(source, target)` pairs as Python strings (at most `limit`)."""
    dataset = string_pairs(config, split)
    return [] if dataset is None else decoded_pairs(dataset, limit)


def corpus_text_pairs(config: TranslationConfig, split: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """`(label, pairs)` for each corpus of a split (for per-corpus validation BLEU)."""
    return [(corpus.label, decoded_pairs(corpus_pairs(config, corpus))) for corpus in getattr(config.data, split)]


def vocabulary_sample(config: TranslationConfig) -> list[tuple[str, str]]:
    """The sentence pairs SentencePiece learns from: at most `vocabulary.max_pairs`.

    One training corpus: its first `max_pairs` pairs. Several: `max_pairs`
    pairs drawn with the training weights, or fewer when the corpora hold
    fewer pairs together (each corpus then contributes about its weighted
    share, and a small one is read more than once).
    """
    corpora = config.data.train
    limit = config.vocabulary.max_pairs
    if len(corpora) == 1:
        return text_pairs(config, "train", limit)
    datasets = [corpus_pairs(config, corpus) for corpus in corpora]
    sizes = [int(dataset.reduce(0, lambda count, _: count + 1)) for dataset in datasets]
    mixed = weighted_mixture(datasets, [corpus.weight for corpus in corpora], config.training.seed)
    return decoded_pairs(mixed, min(limit, sum(sizes)))


def build_vocabularies(
    config: TranslationConfig, run_dir: Path, retrain: bool = False
) -> tuple[SubwordVocabulary, SubwordVocabulary]:
    """Loads `run_dir/{source,target}.spm`, training them on the training text if absent (or if `retrain`).

    New files replace old ones only once both are trained (each atomically).
    """
    source_file, target_file = run_dir / "source.spm", run_dir / "target.spm"
    if source_file.exists() and target_file.exists() and not retrain:
        return SubwordVocabulary.load_pair(run_dir)
    vocabulary = config.vocabulary
    pairs = vocabulary_sample(config)
    print(
        f"training SentencePiece ({vocabulary.model_type}, {vocabulary.size}, "
        f"{'joint' if vocabulary.joint else 'separate'}) on {len(pairs)} sentence pairs",
        flush=True,
    )

    def train(lines, name):
        return train_sentencepiece(
            lines, vocabulary.size, vocabulary.model_type, vocabulary.character_coverage, seed_name=name
        )

    if vocabulary.joint:
        source = target = train([s for s, _ in pairs] + [t for _, t in pairs], "training text")
    else:
        source = train([s for s, _ in pairs], "source training text")
        target = train([t for _, t in pairs], "target training text")
    source_vocab, target_vocab = SubwordVocabulary(source), SubwordVocabulary(target)
    run_dir.mkdir(parents=True, exist_ok=True)
    source_vocab.save(source_file)
    target_vocab.save(target_file)
    return source_vocab, target_vocab


def _length_limits(config: TranslationConfig) -> tuple[int, int]:
    longest = config.training.bucket_boundaries[-1] - 1
    return min(config.data.max_source_length, longest), min(config.data.max_target_length, longest)


def sampled_examples(config, pairs, source, target, seed) -> tf.data.Dataset:
    """Training string `pairs` with a segmentation sampled from `seed` (`data.subword_sampling`), as inputs."""
    return (
        pairs.apply(
            pipes.sampled_tokenize_pairs(source.model_proto, target.model_proto, config.data.subword_sampling, seed)
        )
        .apply(pipes.to_model_inputs(target.bos_id, target.eos_id))
        .apply(pipes.filter_by_length(*_length_limits(config)))
    )


def corpus_examples(
    config: TranslationConfig,
    corpus: CorpusConfig,
    split: str,
    source: SubwordVocabulary,
    target: SubwordVocabulary,
    report: bool = True,
) -> tf.data.Dataset:
    """One corpus as length-filtered model inputs `({"source_ids", "target_inputs"}, targets)`."""
    max_source, max_target = _length_limits(config)
    examples = (
        corpus_pairs(config, corpus)
        .apply(pipes.tokenize_pairs(source.model_proto, target.model_proto))
        .apply(pipes.to_model_inputs(target.bos_id, target.eos_id))
    )
    if report:
        kept, total = pipes.count_filtered(examples, max_source, max_target)
        print(
            f"{split} {corpus.label}: {kept} of {total} pairs kept ({total - kept} longer than {max_source} "
            f"source or {max_target} target tokens filtered out)",
            flush=True,
        )
    return examples.apply(pipes.filter_by_length(max_source, max_target))


def batches(
    config: TranslationConfig,
    split: str,
    source: SubwordVocabulary,
    target: SubwordVocabulary,
    report: bool = True,
    epoch=None,
):
    """Token-batched `({"source_ids", "target_inputs"}, targets)` for a split (None if it has no corpus).

    Training shuffles each corpus, then mixes them by weight (streaming:
    nothing is kept in memory beyond the shuffle buffers); validation and test
    corpora follow each other in order.

    Args:
        epoch: for training, a `tf.Variable` holding the epoch number (see
            :class:`~seq2seq.callbacks.EpochNumber`). The shuffle and mixing
            seeds are `training.seed` and that number, read each time an epoch
            starts reading, so epoch k has the same order whether or not the
            run was interrupted and resumed before it.
    """
    training = config.training
    corpora = getattr(config.data, split)
    if not corpora:
        return None
    if split == "train" and len(corpora) > 1 and training.steps_per_epoch is None:
        raise UserError(
            "several training corpora are mixed without end: set training.steps_per_epoch (batches per epoch)."
        )
    parts = [corpus_examples(config, corpus, split, source, target, report) for corpus in corpora]
    if split == "train":
        weights = [corpus.weight for corpus in corpora]
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False) if epoch is None else epoch

        sampling = config.data.subword_sampling is not None
        if sampling:  # segmentations are sampled after the shuffle, afresh each epoch
            parts = [corpus_pairs(config, corpus) for corpus in corpora]

        def one_epoch(_):
            seed = tf.constant(training.seed, tf.int64) * 100_003 + epoch.read_value()  # this epoch's seed
            shuffled = [
                part.shuffle(training.shuffle_buffer, seed=seed + index, reshuffle_each_iteration=False)
                if training.shuffle_buffer
                else part
                for index, part in enumerate(parts)
            ]
            if sampling:
                shuffled = [sampled_examples(config, part, source, target, seed) for part in shuffled]
            return weighted_mixture(shuffled, weights, seed)

        examples = tf.data.Dataset.from_tensors(0).flat_map(one_epoch)
    else:  # read every epoch: kept in memory after the first pass (dev and test sets are small)
        examples = _concatenate(parts).cache()
    batched = examples.apply(pipes.bucket_by_tokens(training.max_tokens, list(training.bucket_boundaries)))
    if split == "train" and training.steps_per_epoch is not None:
        batched = batched.take(training.steps_per_epoch)
    return batched.prefetch(2)
