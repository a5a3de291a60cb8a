"""Lexical shortlists: candidates, restricted output layers, search with a shortlist, building one, the command."""

import subprocess
import sys

import keras
import numpy as np
import pytest
from helpers import DATA, FixedStepModel, write
from keras import ops

from seq2seq.core import output, precision
from seq2seq.core.decoding import DecodingOptions
from seq2seq.core.output import OutputProjection
from seq2seq.core.search import beam_search
from seq2seq.core.searcher import Searcher
from seq2seq.errors import UserError
from seq2seq.model_dirs import load_translation_model
from seq2seq.translation.shortlist import FILE_NAME, Shortlist, build_shortlist, lexical_table, load_shortlist
from seq2seq.translation.translator import Translator


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "seq2seq", *args], capture_output=True, text=True)


def test_candidates_are_the_sorted_union_of_rows_frequent_and_specials():
    table = np.zeros((6, 2), "int32")
    table[4] = [9, 7]
    table[5] = [7, 0]  # padded row
    shortlist = Shortlist(table, frequent=[11], target_vocab_size=12)
    ids = np.asarray(shortlist.candidates(np.array([[4, 5, 0], [5, 0, 0]])))
    assert ids.tolist() == [0, 1, 2, 3, 7, 9, 11]
    assert np.asarray(shortlist.candidates(np.array([[0]]))).tolist() == [0, 1, 2, 3, 11]


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_restricted_output_layer_gives_the_columns_of_the_full_one(tied, dtype):
    embedding = keras.layers.Embedding(20, 6)
    embedding.build((None,))
    head = OutputProjection(vocab_size=20, units=8, embedding=embedding, tie_embeddings=tied)
    head.build((None, 8))
    head.bias.assign(np.linspace(-1, 1, 20).astype("float32"))
    model = keras.Sequential([head])
    hidden = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    vocabulary = np.array([0, 1, 2, 3, 5, 17], "int32")
    with precision.using(precision.snapshot(model, dtype)):
        full = np.asarray(head(hidden))
        with output.restricted(model, vocabulary):
            part = np.asarray(head(hidden))
        after = np.asarray(head(hidden))
    assert part.shape == (3, 6)
    np.testing.assert_allclose(part, full[:, vocabulary], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(after, full)  # the restriction ends with its block


class HeadModel(keras.Model):
    """A searchable model whose next-token logits come from an OutputProjection of a fixed hidden vector per step."""

    def __init__(self, hidden, vocab_size):
        super().__init__()
        self.hidden = np.asarray(hidden, "float32")  # (steps, units)
        self.head = OutputProjection(vocab_size=vocab_size, units=self.hidden.shape[1])
        self.head.build((None, self.hidden.shape[1]))

    def encode(self, inputs):
        batch = ops.shape(inputs)[0]
        return (), ops.zeros((batch,), "int32"), ops.full((batch,), 2, "int32")

    def decode_step(self, token_ids, carry, context):
        step = ops.minimum(carry, len(self.hidden) - 1)
        logits = self.head(ops.take(ops.convert_to_tensor(self.hidden), step, axis=0))
        return ops.log_softmax(logits, axis=-1), carry + 1


def head_model(seed=0, vocab=16, steps=6):
    keras.utils.set_random_seed(seed)
    return HeadModel(np.random.default_rng(seed).normal(size=(steps, 8)) * 3, vocab)


@pytest.mark.parametrize("beam, compact", [(1, None), (4, None), (4, 2)])
def test_search_with_every_word_in_the_shortlist_is_the_full_search(beam, compact):
    model = head_model()
    inputs = np.array([[5, 6, 0], [7, 0, 0], [5, 5, 5]], "int32")
    everything = Shortlist(np.tile(np.arange(16, dtype="int32"), (16, 1)), [], 16)
    plain = Searcher(model, eos_id=3, beam_size=beam, max_length=6, compact_every=compact).search(inputs)
    listed = Searcher(
        model, eos_id=3, beam_size=beam, max_length=6, compact_every=compact, shortlist=everything
    ).search(inputs)
    np.testing.assert_array_equal(listed["tokens"], plain["tokens"])
    np.testing.assert_allclose(listed["scores"], plain["scores"], rtol=1e-5)


@pytest.mark.parametrize("beam", [1, 4])
def test_search_emits_only_shortlisted_words_and_renormalises_over_them(beam):
    model = head_model(seed=1)
    inputs = np.array([[4, 0], [5, 4]], "int32")
    plain = Searcher(model, eos_id=3, beam_size=beam, max_length=6).search(inputs)
    used = set(np.unique(plain["tokens"]).tolist())
    assert used - {0, 1, 2, 3}, "the full search must emit a word, or this test shows nothing"
    listed = sorted(set(range(4, 16)) - used)[:3]  # words the full search did not choose
    table = np.zeros((16, 2), "int32")
    table[4] = listed[:2]
    table[5] = [listed[2], 0]
    shortlist = Shortlist(table, [], 16)
    allowed = {0, 1, 2, 3, *listed}  # the union over the batch: both rows may use all three
    listed = Searcher(model, eos_id=3, beam_size=beam, max_length=6, shortlist=shortlist).search(inputs)
    assert set(np.unique(listed["tokens"]).tolist()) <= allowed - {2}  # never <bos>
    # the scores are log-probabilities under the softmax over the listed ids
    hidden = model.hidden
    logits = np.asarray(model.head(hidden))[:, sorted(allowed)]
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    position = {token: i for i, token in enumerate(sorted(allowed))}
    for row in range(2):
        tokens = [t for t in listed["tokens"][row, 0] if t != 0]
        expected = sum(log_probs[step, position[t]] for step, t in enumerate(tokens))
        assert listed["scores"][row, 0] == pytest.approx(expected, rel=1e-5)


def test_search_functions_without_a_vocabulary_are_unchanged():
    table = np.log(np.full((4, 6), 1 / 6, "float32"))
    tokens, _, _ = beam_search(FixedStepModel(table), np.zeros((1, 2), "int32"), eos_id=3, max_length=3, beam_size=2)
    assert tokens.shape == (1, 2, 3)


def test_lexical_table_ranks_by_alignment_counts_and_cuts_at_per_source():
    source = [4, 4, 4, 4, 4, 5, 5, 6]
    target = [9, 8, 9, 7, 9, 7, 7, 9]
    shortlist = lexical_table(source, target, source_vocab_size=8, target_vocab_size=12, per_source=2, frequent=1)
    assert shortlist.table[4].tolist() == [9, 7]  # 9 three times; 7 and 8 once each: the smaller id first
    assert shortlist.table[5].tolist() == [7, 0]
    assert shortlist.table[6].tolist() == [9, 0]
    assert shortlist.table[0].tolist() == [0, 0]
    assert shortlist.always.tolist() == [0, 1, 2, 3, 9]  # 9 is the most frequent target id


def test_built_shortlist_lists_every_word_of_the_training_pairs(toy_translation_dir):
    model, source_vocab, target_vocab = load_translation_model(toy_translation_dir)
    sources = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()
    targets = (DATA / "toy.en").read_text(encoding="utf-8").splitlines()
    pairs = list(zip(sources, targets))
    shortlist = build_shortlist(model, source_vocab, target_vocab, pairs, per_source=len(target_vocab), frequent=0)
    for source, target in pairs:
        listed = set(np.asarray(shortlist.candidates(np.array([source_vocab.encode(source)]))).tolist())
        assert set(target_vocab.encode(target)) <= listed
    # the list holds each source's reference words, so the model, which has memorised its pairs, translates
    # them as with the whole vocabulary (though its softmax now covers about half of it)
    assert len(np.asarray(shortlist.candidates(np.array([source_vocab.encode(sources[0])])))) < len(target_vocab) * 0.8
    plain = Translator(model, source_vocab, target_vocab, DecodingOptions(beam_size=3)).translate(sources)
    listed = Translator(model, source_vocab, target_vocab, DecodingOptions(beam_size=3), shortlist=shortlist).translate(
        sources
    )
    assert [hypotheses[0].text for hypotheses in listed] == [hypotheses[0].text for hypotheses in plain] == targets


@pytest.mark.slow
def test_shortlist_command_writes_a_file_that_translate_uses(toy_translation_dir, tmp_path):
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(toy_translation_dir, model_dir)
    args = ["shortlist", "--model", str(model_dir), "--source", str(DATA / "toy.de"), "--target", str(DATA / "toy.en")]
    done = run_cli(*args, "--per-source", "1", "--frequent", "0")
    assert done.returncode == 0, done.stderr
    assert f"wrote {model_dir / FILE_NAME}" in done.stdout
    again = run_cli(*args)
    assert again.returncode == 2 and "--overwrite" in again.stderr and "Traceback" not in again.stderr
    assert run_cli(*args, "--per-source", "1", "--frequent", "0", "--overwrite").returncode == 0  # its own file
    (model_dir / FILE_NAME).write_bytes(b"not a shortlist")
    stranger = run_cli(*args, "--overwrite")
    assert stranger.returncode == 2 and "is not a shortlist" in stranger.stderr
    assert (model_dir / FILE_NAME).read_bytes() == b"not a shortlist"
    (model_dir / FILE_NAME).unlink()
    assert run_cli(*args, "--per-source", "1", "--frequent", "0", "--overwrite").returncode == 0
    model, _, _ = load_translation_model(model_dir)
    shortlist = load_shortlist(model_dir, model)
    assert shortlist.table.shape[1] == 1
    # translate --shortlist uses it: a one-word-per-source list changes some outputs; without the option,
    # translate searches the whole vocabulary (as the copy without the file)
    source = tmp_path / "in.de"
    write(source, (DATA / "toy.de").read_text(encoding="utf-8").splitlines())
    with_list = run_cli("translate", "--model", str(model_dir), str(source), "--shortlist")
    without = run_cli("translate", "--model", str(model_dir), str(source))
    assert with_list.returncode == without.returncode == 0
    assert with_list.stdout != without.stdout
    assert len(with_list.stdout.splitlines()) == len(without.stdout.splitlines()) == 10
    missing = run_cli("translate", "--model", str(toy_translation_dir), str(source), "--shortlist")
    assert missing.returncode == 2 and "seq2seq shortlist --model" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_shortlist_command_refuses_sides_of_different_lengths(toy_translation_dir, tmp_path):
    write(tmp_path / "a.de", ["ein Hund", "eine Katze"])
    write(tmp_path / "a.en", ["a dog"])
    done = run_cli(
        "shortlist",
        "--model",
        str(toy_translation_dir),
        "--source",
        str(tmp_path / "a.de"),
        "--target",
        str(tmp_path / "a.en"),
    )
    assert done.returncode == 2
    assert "a.de" in done.stderr and "after line 1" in done.stderr and "Traceback" not in done.stderr
    assert not (toy_translation_dir / FILE_NAME).exists()


def test_a_shortlist_of_another_model_or_no_shortlist_file_is_refused(tmp_path):
    path = tmp_path / FILE_NAME
    Shortlist(np.zeros((10, 2), "int32"), [5], 12).save(path)
    assert Shortlist.load(path, 10, 12).table.shape == (10, 2)
    with pytest.raises(UserError, match="expected \\(11, N\\)"):
        Shortlist.load(path, 11, 12)
    with pytest.raises(UserError, match="not target ids below 4"):
        Shortlist.load(path, 10, 4)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "objects.npy").rename(path)
    with pytest.raises(UserError, match="not a shortlist file"):
        Shortlist.load(path, 10, 12)
