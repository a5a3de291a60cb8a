"""Search rules checked on hand-made numbers: the length penalty, the output-length limit, top-k sampling.

The searchable model here is `helpers.FixedStepModel`: at output position t
every row gets the same fixed log-probabilities, whatever came before, so
the score of each hypothesis can be worked out on paper.
Ids: 0 <pad>, 1 <unk>, 2 <bos>, 3 <eos>, 4 "x".
"""

import math

import numpy as np
import pytest
from helpers import FixedStepModel

from seq2seq.core.search import beam_search, greedy_search, length_penalty, max_target_length, sample
from seq2seq.core.searcher import Searcher

EOS, X = 3, 4
INPUTS = np.ones((2, 3), "int32")  # two rows; the fixed model ignores the input ids

# Step 1: <eos> 0.5, "x" 0.45. Step 2 onwards: <eos> 0.99.
#   short hypothesis "<eos>":   log 0.5                = -0.6931
#   long hypothesis "x <eos>":  log 0.45 + log 0.99    = -0.7985 - 0.0101 = -0.8086
SHORT_OR_LONG = np.log([[0.01, 0.02, 0.02, 0.50, 0.45], [0.0025, 0.0025, 0.0025, 0.99, 0.0025]])
SHORT, LONG = math.log(0.5), math.log(0.45) + math.log(0.99)


def test_length_penalty_is_wu_et_al():
    # ((5 + |Y|) / 6) ** alpha: 1 for one token, (7/6)**2 for two tokens with alpha 2, 1 for alpha 0.
    np.testing.assert_allclose(np.asarray(length_penalty(np.array([1, 2, 7]), 2.0)), [1.0, 49 / 36, 4.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(length_penalty(np.array([1, 10]), 0.0)), [1.0, 1.0])


def test_without_length_penalty_the_short_hypothesis_wins():
    tokens, scores, normalized = beam_search(
        FixedStepModel(SHORT_OR_LONG), INPUTS, EOS, max_length=5, beam_size=2, alpha=0.0
    )
    tokens = np.asarray(tokens)
    assert tokens[0, 0].tolist() == [EOS, 0, 0, 0, 0] and tokens[0, 1].tolist() == [X, EOS, 0, 0, 0]
    np.testing.assert_allclose(np.asarray(scores)[0], [SHORT, LONG], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(normalized)[0], [SHORT, LONG], rtol=1e-5)  # penalty 1 when alpha 0


def test_a_larger_alpha_prefers_the_long_hypothesis():
    # alpha 2: the long one is divided by (7/6)**2 = 1.3611: -0.8086 / 1.3611 = -0.5941 > -0.6931.
    tokens, scores, normalized = beam_search(
        FixedStepModel(SHORT_OR_LONG), INPUTS, EOS, max_length=5, beam_size=2, alpha=2.0
    )
    tokens = np.asarray(tokens)
    assert tokens[0, 0].tolist() == [X, EOS, 0, 0, 0] and tokens[0, 1].tolist() == [EOS, 0, 0, 0, 0]
    np.testing.assert_allclose(np.asarray(scores)[0], [LONG, SHORT], rtol=1e-5)  # raw scores are not changed
    np.testing.assert_allclose(np.asarray(normalized)[0], [LONG / (7 / 6) ** 2, SHORT], rtol=1e-5)
    np.testing.assert_array_equal(tokens[1], tokens[0])  # every row is ranked alike


def test_the_searcher_passes_alpha_to_beam_search():
    searcher = Searcher(FixedStepModel(SHORT_OR_LONG), EOS, beam_size=2, max_length=5, alpha=2.0)
    assert searcher.search(INPUTS)["tokens"][0, 0].tolist() == [X, EOS, 0, 0, 0]
    searcher = Searcher(FixedStepModel(SHORT_OR_LONG), EOS, beam_size=2, max_length=5, alpha=0.0)
    assert searcher.search(INPUTS)["tokens"][0, 0].tolist() == [EOS, 0, 0, 0, 0]


def test_max_target_length():
    assert max_target_length(4, 1.5, 10) == 16  # ceil(6 + 10)
    assert max_target_length(3, 1.2, 0) == 4  # ceil(3.6)
    assert max_target_length(7, 1.0, -3) == 4
    assert max_target_length(0, 1.5, 0) == 1  # never below one token


# "x" is always the most likely token, <eos> never comes: outputs run into the length limit.
NEVER_ENDS = np.log([[0.01, 0.01, 0.01, 0.07, 0.9]])


def test_greedy_stops_at_max_length():
    tokens, scores = greedy_search(FixedStepModel(NEVER_ENDS), INPUTS, EOS, max_length=4)
    assert np.asarray(tokens).tolist() == [[X] * 4, [X] * 4]
    np.testing.assert_allclose(np.asarray(scores), [4 * math.log(0.9)] * 2, rtol=1e-5)  # 4 tokens scored


def test_greedy_stops_at_eos_and_pads_after_it():
    # "x", "x", then <eos> most likely; afterwards "x" again, which must not be emitted.
    table = np.log(
        [[0.1, 0.1, 0.1, 0.1, 0.6], [0.1, 0.1, 0.1, 0.1, 0.6], [0.1, 0.1, 0.1, 0.6, 0.1], [0.1, 0.1, 0.1, 0.1, 0.6]]
    )
    tokens, scores = greedy_search(FixedStepModel(table), INPUTS, EOS, max_length=6)
    assert np.asarray(tokens)[0].tolist() == [X, X, EOS, 0, 0, 0]
    assert np.asarray(scores)[0] == pytest.approx(3 * math.log(0.6), rel=1e-5)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_outputs_never_exceed_the_limit(beam_size):
    """With no fixed limit the searcher allows ceil(ratio * input_len + offset) tokens, and no more."""
    searcher = Searcher(FixedStepModel(NEVER_ENDS), EOS, beam_size=beam_size, max_length_ratio=1.5, max_length_offset=1)
    for input_len in (2, 5):
        output = searcher.search(np.ones((2, input_len), "int32"))
        limit = max_target_length(input_len, 1.5, 1)  # 4 and 9
        assert output["tokens"].shape == (2, beam_size, limit)
        assert np.all(output["tokens"][:, 0] == X)  # the best hypothesis uses the whole limit
    fixed = Searcher(FixedStepModel(NEVER_ENDS), EOS, beam_size=beam_size, max_length=3)
    assert fixed.search(np.ones((2, 20), "int32"))["tokens"].shape == (2, beam_size, 3)


def test_a_hypothesis_cut_by_the_limit_is_normalized_by_its_full_length():
    tokens, scores, normalized = beam_search(
        FixedStepModel(NEVER_ENDS), INPUTS, EOS, max_length=4, beam_size=2, alpha=1.0
    )
    assert np.asarray(tokens)[0, 0].tolist() == [X] * 4
    assert np.asarray(scores)[0, 0] == pytest.approx(4 * math.log(0.9), rel=1e-5)
    assert np.asarray(normalized)[0, 0] == pytest.approx(4 * math.log(0.9) / (9 / 6), rel=1e-5)


def test_sampling_with_top_k_one_is_argmax():
    log_probs = np.log(np.random.default_rng(0).dirichlet(np.ones(7), size=50)).astype("float32")
    uniform = np.random.default_rng(1).random(50).astype("float32")
    for temperature in (0.5, 1.0, 5.0):
        drawn = np.asarray(sample(log_probs, uniform, temperature=temperature, top_k=1))
        np.testing.assert_array_equal(drawn, log_probs.argmax(-1))


def test_top_k_samples_only_among_the_k_most_likely():
    probs = np.array([0.05, 0.05, 0.3, 0.1, 0.5], "float32")  # the two most likely are ids 4 and 2
    log_probs = np.tile(np.log(probs), (2000, 1))
    uniform = np.random.default_rng(0).random(2000).astype("float32")
    drawn = np.asarray(sample(log_probs, uniform, temperature=1.0, top_k=2))
    assert set(drawn.tolist()) == {2, 4}
    assert np.mean(drawn == 4) == pytest.approx(0.5 / 0.8, abs=0.05)  # renormalized over the top 2
    everything = np.asarray(sample(log_probs, uniform, temperature=1.0))
    assert set(everything.tolist()) == {0, 1, 2, 3, 4}
    np.testing.assert_allclose(np.bincount(everything, minlength=5) / 2000, probs, atol=0.03)


def test_inverse_cdf_sampling_by_hand():
    # cumulative probabilities 0.1, 0.1, 0.6, 1.0 (id 1 has probability 0): thresholds (1 - u) * 1.0
    log_probs = np.log(np.array([[0.1, 1e-30, 0.5, 0.4]] * 5, "float32"))
    uniform = np.array([0.95, 0.5, 0.45, 0.3, 0.0], "float32")  # thresholds 0.05, 0.5, 0.55, 0.7, 1.0
    assert np.asarray(sample(log_probs, uniform)).tolist() == [0, 2, 2, 3, 3]


def test_sampling_searcher_with_top_k_one_equals_greedy_search():
    table = np.log(np.random.default_rng(1).dirichlet(np.ones(5), size=6))
    greedy = Searcher(FixedStepModel(table), EOS, max_length=6).search(INPUTS)["tokens"]
    top_one = Searcher(FixedStepModel(table), EOS, max_length=6, top_k=1, temperature=2.0, seed=5)
    np.testing.assert_array_equal(top_one.search(INPUTS)["tokens"], greedy)


def test_no_search_emits_pad_or_bos():
    """A model that prefers <pad> and <bos> still gets neither: greedy, beam and sampling skip them."""
    from seq2seq.core.search import never_emitted

    table = np.log([[0.45, 0.02, 0.45, 0.03, 0.05]])  # <pad> and <bos> most likely, then "x", then <eos>
    model = FixedStepModel(table)
    greedy, _ = greedy_search(model, INPUTS, EOS, max_length=4)
    assert np.asarray(greedy)[0].tolist() == [X, X, X, X]
    beams, _, _ = beam_search(model, INPUTS, EOS, max_length=4, beam_size=2)
    assert not np.isin(np.asarray(beams)[:, :, :1], [0, 2]).any()  # first tokens: real ones only
    sampled = Searcher(model, EOS, max_length=50, temperature=2.0, seed=1).search(INPUTS)["tokens"]
    assert not np.isin(sampled[sampled != 0], [0, 2]).any() and set(np.unique(sampled)) <= {0, 1, 3, 4}
    blocked = np.asarray(never_emitted(np.zeros((1, 5), "float32")))[0]
    assert blocked[[0, 2]].max() < -1e8 and blocked[[1, 3, 4]].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "options,message",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"temperature": 1.0, "beam_size": 3}, "beam_size=1"),
    ],
)
def test_bad_sampling_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        Searcher(FixedStepModel(SHORT_OR_LONG), EOS, **options)


def test_early_stop_ends_a_sentence_once_its_best_is_certain():
    """Step 1: <eos> 0.6 ends the best hypothesis (-0.51); "x" (log 0.35 = -1.05) goes on at 0.99 per step and
    never ends. Even at the longest length penalty it can reach ((5 + 8) / 6) ** 0.6 = 1.59, "x ..." ends
    at best at -1.05 / 1.59 = -0.66 < -0.51, so the search can stop after step 1."""
    table = np.log([[0.01, 0.02, 0.02, 0.60, 0.35], [0.0025, 0.0025, 0.0025, 0.0025, 0.99]])
    full, full_scores, full_normalized = (
        np.asarray(x) for x in beam_search(FixedStepModel(table), INPUTS, EOS, max_length=8, beam_size=2, alpha=0.6)
    )
    early, _, early_normalized = (
        np.asarray(x)
        for x in beam_search(FixedStepModel(table), INPUTS, EOS, max_length=8, beam_size=2, alpha=0.6, early_stop=True)
    )
    np.testing.assert_array_equal(early[:, 0], full[:, 0])  # the same best hypothesis, the same score
    np.testing.assert_allclose(early_normalized[:, 0], full_normalized[:, 0], rtol=1e-6)
    assert full[0, 1].tolist() == [X] * 8  # the full search ran the open hypothesis to the limit
    assert early[0, 1].tolist() == [X] + [0] * 7  # stopped after step 1
    assert early_normalized[0, 1] < early_normalized[0, 0]


@pytest.mark.slow  # every search on a trained model
def test_early_stop_keeps_the_best_of_a_trained_model(toy_translation_dir):
    """On a trained translator (the toy one) the 1-best and its score are those of the full search."""
    from helpers import DATA

    from seq2seq.model_dirs import load_translation_model

    model, source, _ = load_translation_model(toy_translation_dir)
    lines = (DATA / "toy.de").read_text(encoding="utf-8").splitlines() + ["hund park kinder", "ein ein ein ein"]
    ids = [source.encode(line) for line in lines]
    sources = np.zeros((len(ids), max(map(len, ids))), "int32")
    for row, line_ids in enumerate(ids):
        sources[row, : len(line_ids)] = line_ids
    for alpha in (0.0, 0.6, 1.5):
        full = [np.asarray(x) for x in beam_search(model, sources, EOS, max_length=30, beam_size=4, alpha=alpha)]
        early = [
            np.asarray(x)
            for x in beam_search(model, sources, EOS, max_length=30, beam_size=4, alpha=alpha, early_stop=True)
        ]
        np.testing.assert_array_equal(early[0][:, 0], full[0][:, 0])
        np.testing.assert_allclose(early[2][:, 0], full[2][:, 0], rtol=1e-5)
