"""Translation pipelines: parallel files, tfds (mocked), SentencePiece in the graph, buckets."""

import gzip

import numpy as np
import pytest
import tensorflow as tf
from helpers import DATA

from pipelines import translation
from seq2seq.core.subwords import SubwordVocabulary, train_sentencepiece
from seq2seq.errors import UserError
from seq2seq.textio import read_lines


@pytest.fixture(scope="module")
def joint_model():
    lines = read_lines(DATA / "toy.de") + read_lines(DATA / "toy.en")
    return train_sentencepiece(lines, vocab_size=80, model_type="bpe")


def test_parallel_files_pair_line_by_line(tmp_path):
    source = tmp_path / "s.de.gz"
    with gzip.open(source, "wt") as handle:
        handle.write((DATA / "toy.de").read_text())
    pairs = list(translation.parallel_text_files(source, DATA / "toy.en").as_numpy_iterator())
    assert len(pairs) == 10
    assert pairs[3] == ("ein mann fährt mit dem fahrrad .".encode(), b"a man rides a bicycle .")


def test_parallel_files_of_different_length_name_both(tmp_path):
    short = tmp_path / "short.en"
    short.write_text("one line\n")
    with pytest.raises(UserError) as error:
        translation.parallel_text_files(DATA / "toy.de", short)
    assert f"{DATA / 'toy.de'} has 10 lines, {short} has 1" in str(error.value)


def test_sentencepiece_ids_and_round_trip(joint_model):
    vocab = SubwordVocabulary(joint_model)
    assert vocab.processor.id_to_piece(0) == "<pad>" and vocab.processor.id_to_piece(3) == "<eos>"
    ids = vocab.encode("a dog runs in the garden .")
    assert vocab.decode(ids + [vocab.eos_id, 17]) == "a dog runs in the garden ."


def test_graph_tokenization_matches_python(joint_model):
    vocab = SubwordVocabulary(joint_model)
    pairs = translation.parallel_text_files(DATA / "toy.de", DATA / "toy.en")
    ((source, target),) = pairs.take(1).apply(translation.tokenize_pairs(joint_model, joint_model))
    assert source.numpy().tolist() == vocab.encode("ein hund läuft im park .")
    assert target.numpy().tolist() == vocab.encode("a dog runs in the park .")


def test_model_inputs_filter_and_buckets(joint_model):
    pairs = (
        translation.parallel_text_files(DATA / "toy.de", DATA / "toy.en")
        .apply(translation.tokenize_pairs(joint_model, joint_model))
        .apply(translation.to_model_inputs(2, 3))
    )
    inputs, targets = next(iter(pairs))
    assert inputs["target_inputs"].numpy()[0] == 2 and targets.numpy()[-1] == 3
    np.testing.assert_array_equal(inputs["target_inputs"].numpy()[1:], targets.numpy()[:-1])
    lengths = [max(len(i["source_ids"]), len(t)) for i, t in pairs.as_numpy_iterator()]
    limit = sorted(lengths)[5]
    kept, total = translation.count_filtered(pairs, limit, limit)
    assert total == 10 and kept == sum(length <= limit for length in lengths)
    batches = list(
        pairs.apply(translation.filter_by_length(40, 40)).apply(
            translation.bucket_by_tokens(max_tokens=64, boundaries=[12, 24, 41])
        )
    )
    assert sum(len(t) for _, t in batches) == 10
    for inputs, targets in batches:
        width = targets.shape[1]
        assert width in (11, 23, 40)  # padded to the bucket boundary - 1
        assert inputs["source_ids"].shape[1] == width
        assert targets.shape[0] * width <= 64


def test_tfds_wmt14_pipeline_with_mock_data(joint_model):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=6):
        pairs = translation.tfds_translation("wmt14_translate/de-en", "train", "de", "en")
        batches = list(
            pairs.apply(translation.tokenize_pairs(joint_model, joint_model))
            .apply(translation.to_model_inputs(2, 3))
            .apply(translation.filter_by_length(500, 500))
            .apply(translation.bucket_by_tokens(4000, [64, 501]))
        )
    assert sum(int(t.shape[0]) for _, t in batches) == 6
    assert all(i["source_ids"].dtype == tf.int32 for i, _ in batches)


def test_tfds_errors_list_what_exists():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(UserError) as error:
            translation.tfds_translation("wmt14_translate/cs-en", "train", "de", "en")
        assert "has languages ['cs', 'en'], not 'de' and 'en'" in str(error.value)
        assert "de-en" in str(error.value)  # the configs that exist
        with pytest.raises(UserError, match="tfds dataset 'no_such_dataset'"):
            translation.tfds_translation("no_such_dataset", "train", "de", "en")


def test_local_corpus_through_tfds_translate_folder(tmp_path):
    for language in ("de", "en"):
        lines = (DATA / f"toy.{language}").read_text().splitlines()
        (tmp_path / f"{language}.train.txt").write_text("\n".join(lines) + "\n")
        (tmp_path / f"{language}.dev.txt").write_text("\n".join(lines[:2]) + "\n")
    pairs = list(translation.tfds_translation(f"folder:{tmp_path}", "dev", "de", "en").as_numpy_iterator())
    assert pairs == [
        (s.encode(), t.encode())
        for s, t in zip((DATA / "toy.de").read_text().splitlines()[:2], (DATA / "toy.en").read_text().splitlines()[:2])
    ]
    with pytest.raises(UserError, match=r"has no split 'test'; it has \['dev', 'train'\]"):
        translation.tfds_translation(f"folder:{tmp_path}", "test", "de", "en")
    with pytest.raises(UserError, match=r"has languages \['de', 'en'\], not 'fr' and 'en'"):
        translation.tfds_translation(f"folder:{tmp_path}", "train", "fr", "en")
    with pytest.raises(UserError, match="not found"):
        translation.tfds_translation(f"folder:{tmp_path / 'missing'}", "train", "de", "en")
