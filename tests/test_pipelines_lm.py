"""The language-model tf.data pipeline: tokens, next-token pairs and carried windows."""

import gzip

import numpy as np
import tensorflow as tf

from pipelines import lm as lm_pipeline
from pipelines.text import read_text_lines, tokenize
from seq2seq.core.vocabulary import Vocabulary


def test_windows_continue_each_other_row_by_row(tmp_path):
    path = tmp_path / "text.txt.gz"
    lines = [" ".join(f"w{i}" for i in range(start, start + 5)) for start in range(0, 60, 5)]
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    vocab = Vocabulary.build(lines)
    windows = list(
        read_text_lines([path])
        .apply(tokenize(vocab))
        .apply(lm_pipeline.next_token_pairs(vocab))
        .apply(lm_pipeline.stream_windows(batch_size=3, window_length=4))
    )
    inputs = np.concatenate([w[0].numpy() for w in windows], axis=1)  # (3, windows * 4)
    targets = np.concatenate([w[1].numpy() for w in windows], axis=1)
    assert all(tuple(w[0].shape) == (3, 4) for w in windows)
    # Targets are the inputs shifted by one within each stream, with <bos> never a target.
    np.testing.assert_array_equal(
        inputs[:, 1:][inputs[:, 1:] != vocab.bos_id], targets[:, :-1][inputs[:, 1:] != vocab.bos_id]
    )
    assert (targets != vocab.bos_id).all()
    # Row 0 reads the text from the start: <bos> w0 w1 w2 w3 w4 <bos> w5 ...
    assert vocab.decode(inputs[0, :8]) == "w0 w1 w2 w3 w4 w5"
    assert inputs[0, 0] == vocab.bos_id and inputs[0, 6] == vocab.bos_id


def test_unknown_words_and_characters():
    vocab = Vocabulary.build(["a b"], level="word")
    ids = next(iter(tf.data.Dataset.from_tensor_slices(["a  c b"]).apply(tokenize(vocab))))
    assert ids.numpy().tolist() == [vocab.index["a"], vocab.unk_id, vocab.index["b"]]
    chars = Vocabulary.build(["héllo"], level="char")
    ids = next(iter(tf.data.Dataset.from_tensor_slices(["hé!"]).apply(tokenize(chars))))
    assert ids.numpy().tolist() == [chars.index["h"], chars.index["é"], chars.unk_id]


def test_vocabulary_round_trip(tmp_path):
    vocab = Vocabulary.build(["b a a", "c"], max_size=6)
    assert vocab.tokens[:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert vocab.tokens[4:] == ["a", "b"]
    vocab.save(tmp_path / "v.json")
    loaded = Vocabulary.load(tmp_path / "v.json")
    assert loaded.tokens == vocab.tokens and loaded.level == "word"
