"""Decoding: greedy == beam 1, beam never below greedy, finished hypotheses, sampling."""

import keras
import numpy as np
import pytest

from seq2seq.core.search import beam_search, greedy_search
from seq2seq.core.searcher import Searcher
from seq2seq.models.encoder_decoder import Seq2SeqModel

BOS, EOS = 2, 3


SOURCES = np.array([[4, 5, 6, 7], [9, 8, 7, 0], [5, 5, 0, 0]], "int32")


def test_greedy_copies_after_training(trained):
    tokens, scores = greedy_search(trained, SOURCES, EOS, max_length=8)
    tokens = np.asarray(tokens)
    assert tokens[0, :5].tolist() == [4, 5, 6, 7, EOS]
    assert tokens[0, 5:].tolist() == [0, 0, 0]  # padding after <eos>
    assert np.all(np.asarray(scores) <= 0)


def test_greedy_equals_beam_of_one(trained):
    greedy_tokens, greedy_scores = greedy_search(trained, SOURCES, EOS, max_length=8)
    beam_tokens, beam_scores, _ = beam_search(trained, SOURCES, EOS, max_length=8, beam_size=1)
    np.testing.assert_array_equal(np.asarray(beam_tokens)[:, 0], np.asarray(greedy_tokens))
    np.testing.assert_allclose(np.asarray(beam_scores)[:, 0], np.asarray(greedy_scores), rtol=1e-5)


@pytest.mark.parametrize("beam_size", [2, 5])
def test_beam_never_scores_below_greedy(trained, beam_size):
    _, greedy_scores = greedy_search(trained, SOURCES, EOS, max_length=8)
    tokens, scores, _ = beam_search(trained, SOURCES, EOS, max_length=8, beam_size=beam_size)
    assert np.all(np.asarray(scores)[:, 0] >= np.asarray(greedy_scores) - 1e-5)
    # n-best: distinct hypotheses, sorted best first.
    scores = np.asarray(scores)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    tokens = np.asarray(tokens)
    assert len({tuple(row) for row in tokens[0]}) == beam_size


def test_beam_scores_are_the_sum_of_token_log_probs(trained):
    tokens, scores, _ = beam_search(trained, SOURCES[:1], EOS, max_length=8, beam_size=3)
    hypothesis = np.asarray(tokens)[0, 1]
    length = int(np.argmax(hypothesis == EOS)) + 1 if EOS in hypothesis else len(hypothesis)
    target_inputs = np.concatenate([[BOS], hypothesis[: length - 1]])[None].astype("int32")
    log_probs = np.asarray(
        keras.ops.log_softmax(trained({"source_ids": SOURCES[:1], "target_inputs": target_inputs}), -1)
    )
    expected = sum(log_probs[0, t, hypothesis[t]] for t in range(length))
    assert np.asarray(scores)[0, 1] == pytest.approx(expected, abs=1e-4)


def test_searcher_compiles_and_samples_reproducibly(trained):
    greedy = Searcher(trained, EOS, beam_size=1, max_length_ratio=1.0, max_length_offset=2)
    output = greedy.predict_on_batch(SOURCES)
    assert output["tokens"].shape == (3, 1, 6)
    beam = Searcher(trained, EOS, beam_size=4, alpha=0.6)
    assert beam.predict_on_batch(SOURCES)["tokens"].shape == (3, 4, 16)
    first = Searcher(trained, EOS, temperature=1.5, seed=3).predict_on_batch(SOURCES)["tokens"]
    again = Searcher(trained, EOS, temperature=1.5, seed=3).predict_on_batch(SOURCES)["tokens"]
    np.testing.assert_array_equal(first, again)
    others = [
        Searcher(trained, EOS, temperature=3.0, seed=seed).predict_on_batch(SOURCES)["tokens"] for seed in (4, 5, 6)
    ]
    assert any(not np.array_equal(others[0], other) for other in others[1:])  # other seeds, other samples


@pytest.mark.parametrize("attention", ["none", "luong"])
def test_beam_search_works_for_every_attention(attention):
    """Beam search repeats and reorders the encoder outputs; a model without attention has no keys (None).

    (Bahdanau attention is covered by the tests above.)
    """
    keras.utils.set_random_seed(2)
    model = Seq2SeqModel(
        source_vocab_size=10,
        target_vocab_size=10,
        embedding_dim=8,
        encoder={"units": 8},
        decoder={"units": 16},
        attention=attention,
        attention_units=8,
    )
    model({"source_ids": SOURCES, "target_inputs": SOURCES})  # build, as loading a saved model does
    greedy_tokens, greedy_scores = greedy_search(model, SOURCES, EOS, max_length=6)
    beam_tokens, beam_scores, _ = beam_search(model, SOURCES, EOS, max_length=6, beam_size=1)
    np.testing.assert_array_equal(np.asarray(beam_tokens)[:, 0], np.asarray(greedy_tokens))
    np.testing.assert_allclose(np.asarray(beam_scores)[:, 0], np.asarray(greedy_scores), rtol=1e-5)
    result = Searcher(model, EOS, beam_size=3).search(SOURCES)  # compiled, as `translate` runs it
    assert result["tokens"].shape[:2] == (3, 3)
    assert np.all(np.isfinite(result["scores"]))
    assert np.all(np.diff(result["normalized_scores"], axis=1) <= 1e-6)  # best first
    assert all(len({tuple(row) for row in sentence}) == 3 for sentence in result["tokens"])  # distinct


@pytest.mark.parametrize("beam_size, early_stop, multiple", [(1, False, 1), (3, False, 1), (3, True, 1), (3, True, 2)])
def test_dropping_finished_sentences_between_bursts_changes_no_output(
    trained, beam_size, early_stop, multiple, monkeypatch
):
    import seq2seq.core.searcher as searcher_module

    sources = np.array([[4, 5, 6, 7, 8, 9], [9, 8, 7, 0, 0, 0], [5, 0, 0, 0, 0, 0], [6, 7, 0, 0, 0, 0]], "int32")
    options = dict(
        beam_size=beam_size, alpha=0.6, early_stop=early_stop, max_length_ratio=1.0, max_length_offset=0
    )  # each sentence stops at its source length, the third after one step
    whole = Searcher(trained, EOS, **options).search(sources)
    kept = []
    gather = searcher_module._gather
    monkeypatch.setattr(searcher_module, "_gather", lambda value, rows: kept.append(len(rows)) or gather(value, rows))
    bursts = Searcher(trained, EOS, compact_every=1, compact_multiple=multiple, **options).search(sources)
    assert kept and min(kept) < len(sources)  # sentences left the batch before the last step
    assert all(count % multiple == 0 for count in kept)  # batches shrink to whole multiples of sentences
    np.testing.assert_array_equal(bursts["tokens"], whole["tokens"])
    np.testing.assert_allclose(bursts["scores"], whole["scores"], rtol=1e-5)
    np.testing.assert_allclose(bursts["normalized_scores"], whole["normalized_scores"], rtol=1e-5)
    assert np.count_nonzero(whole["tokens"][2, 0]) == 1 and np.count_nonzero(whole["tokens"][0, 0]) >= 4


def test_compaction_is_refused_with_sampling(trained):
    with pytest.raises(ValueError, match="compact_every"):
        Searcher(trained, EOS, temperature=1.0, compact_every=4)
    with pytest.raises(ValueError, match="compact_multiple"):
        Searcher(trained, EOS, beam_size=3, compact_every=4, compact_multiple=0)
