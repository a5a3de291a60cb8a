"""Training data of a translation config: string pairs, SentencePiece vocabularies, token batches."""

from __future__ import annotations

import itertools
from pathlib import Path

from pipelines import translation as pipes
from seq2seq.core.subwords import SubwordVocabulary, train_sentencepiece
from seq2seq.translation.config import TranslationConfig


def string_pairs(config: TranslationConfig, split: str):
    """`(source, target)` string pairs of a split ("train", "valid" or "test"), or None if not configured."""
    data = config.data
    if data.tfds_name:
        split_name = {"train": data.tfds_train_split, "valid": data.tfds_valid_split,
                      "test": data.tfds_test_split}[split]
        return pipes.tfds_translation(data.tfds_name, split_name, data.source_language,
                                      data.target_language, data.tfds_data_dir)
    files = data.files({"train": data.train_prefix, "valid": data.valid_prefix, "test": data.test_prefix}[split])
    return None if files is None else pipes.parallel_text_files(*files)


def decoded_pairs(dataset, limit: int | None = None) -> list[tuple[str, str]]:
    """A dataset of `(source, target)` byte strings as Python string pairs (at most `limit`)."""
    return [(s.decode("utf-8"), t.decode("utf-8"))
            for s, t in itertools.islice(dataset.as_numpy_iterator(), limit)]


def text_pairs(config: TranslationConfig, split: str, limit: int | None = None) -> list[tuple[str, str]]:
    """The split's `(source, target)` pairs as Python strings (at most `limit`)."""
    dataset = string_pairs(config, split)
    return [] if dataset is None else decoded_pairs(dataset, limit)


def build_vocabularies(config: TranslationConfig, run_dir: Path,
                       max_sentences: int = 1_000_000) -> tuple[SubwordVocabulary, SubwordVocabulary]:
    """Loads `run_dir/{source,target}.spm`, training them on the training text if absent."""
    source_file, target_file = run_dir / "source.spm", run_dir / "target.spm"
    if source_file.exists() and target_file.exists():
        return SubwordVocabulary.load(source_file), SubwordVocabulary.load(target_file)
    vocabulary = config.vocabulary
    pairs = text_pairs(config, "train", max_sentences)
    print(f"training SentencePiece ({vocabulary.model_type}, {vocabulary.size}, "
          f"{'joint' if vocabulary.joint else 'separate'}) on {len(pairs)} sentence pairs", flush=True)

    def train(lines, name):
        return train_sentencepiece(lines, vocabulary.size, vocabulary.model_type,
                                   vocabulary.character_coverage, seed_name=name)

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


def batches(config: TranslationConfig, split: str, source: SubwordVocabulary, target: SubwordVocabulary,
            report: bool = True):
    """Token-batched `({"source_ids", "target_inputs"}, targets)` for a split (None if absent)."""
    pairs = string_pairs(config, split)
    if pairs is None:
        return None
    training = config.training
    longest = training.bucket_boundaries[-1] - 1
    max_source = min(config.data.max_source_length, longest)
    max_target = min(config.data.max_target_length, longest)
    examples = (pairs.apply(pipes.tokenize_pairs(source.model_proto, target.model_proto))
                .apply(pipes.to_model_inputs(target.bos_id, target.eos_id))
                .cache())
    if report:
        kept, total = pipes.count_filtered(examples, max_source, max_target)
        print(f"{split}: {kept} of {total} pairs kept ({total - kept} longer than {max_source} source or "
              f"{max_target} target tokens filtered out)", flush=True)
    examples = examples.apply(pipes.filter_by_length(max_source, max_target))
    if split == "train" and training.shuffle_buffer:
        examples = examples.shuffle(training.shuffle_buffer, seed=training.seed, reshuffle_each_iteration=True)
    batched = examples.apply(pipes.bucket_by_tokens(training.max_tokens, list(training.bucket_boundaries)))
    if split == "train" and training.steps_per_epoch is not None:
        batched = batched.take(training.steps_per_epoch)
    return batched.prefetch(2)
