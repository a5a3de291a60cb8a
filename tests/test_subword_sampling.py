"""Subword regularization: sampled segmentations of training pairs, the same for the same epoch, text intact."""

import dataclasses

import tensorflow as tf
from helpers import DATA, toy_translation_config

from pipelines.translation import sampled_tokenize_pairs
from seq2seq.core.subwords import SubwordVocabulary, train_sentencepiece

LINES = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()
TARGETS = (DATA / "toy.en").read_text(encoding="utf-8").splitlines()


def segmentations(vocab: SubwordVocabulary, seed: int, alpha: float = 0.3) -> list[tuple[list[int], list[int]]]:
    pairs = tf.data.Dataset.from_tensor_slices((LINES, TARGETS))
    tokenize = sampled_tokenize_pairs(vocab.model_proto, vocab.model_proto, alpha, tf.constant(seed, tf.int64))
    return [(s.numpy().tolist(), t.numpy().tolist()) for s, t in pairs.apply(tokenize)]


def test_sampling_varies_by_epoch_repeats_within_one_and_keeps_the_text(tmp_path):
    vocab = SubwordVocabulary(train_sentencepiece(LINES * 5 + TARGETS * 5, 80, "bpe"))
    first, again, other = segmentations(vocab, 1), segmentations(vocab, 1), segmentations(vocab, 2)
    assert first == again  # an epoch read again (after a resume) is segmented the same
    assert first != other
    deterministic = [(vocab.encode(s), vocab.encode(t)) for s, t in zip(LINES, TARGETS)]
    assert first != deterministic  # sampled, not the usual segmentation
    assert [vocab.decode(s) for s, _ in first] == LINES and [vocab.decode(t) for _, t in other] == TARGETS


def test_training_with_subword_sampling(tmp_path):
    from seq2seq.translation.training import train_translation_model

    config = toy_translation_config(tmp_path / "run", epochs=2)
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, subword_sampling=0.1))
    model_dir = train_translation_model(config)
    assert any(model_dir.iterdir())
    history = (tmp_path / "run" / "history.csv").read_text(encoding="utf-8").splitlines()
    assert len(history) == 3  # a header and two epochs
