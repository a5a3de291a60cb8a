"""Lexically constrained beam search (dynamic beam allocation): every term appears, and nothing else changes."""

import numpy as np
import pytest

from seq2seq.core.constraints import term_arrays
from seq2seq.core.searcher import Searcher

BOS, EOS = 2, 3
SOURCES = np.array([[4, 5, 6, 7], [9, 8, 7, 0], [5, 5, 0, 0]], "int32")


def output_of(tokens) -> list[int]:
    tokens = list(tokens)
    return tokens[: tokens.index(EOS)] if EOS in tokens else [t for t in tokens if t]


def contains(sequence: list[int], term: list[int]) -> bool:
    return any(sequence[i : i + len(term)] == term for i in range(len(sequence) - len(term) + 1))


@pytest.mark.parametrize("beam_size", [1, 3, 5])
@pytest.mark.parametrize(
    "terms",
    [
        [[4]],  # what the model writes first anyway: the start
        [[5, 6]],  # the middle
        [[9]],  # a word the copy does not hold
        [[8, 9]],  # two tokens, neither in the copy
        [[6, 7]],  # the end of the copy
        [[9], [8, 8]],  # two terms
        [[8, 9], [8, 6]],  # overlapping terms: the same first token
    ],
)
def test_every_term_appears(trained, terms, beam_size):
    searcher = Searcher(trained, EOS, beam_size=beam_size, max_length=12)
    output = searcher.search(SOURCES, term_arrays([terms] * len(SOURCES)))
    for row in range(len(SOURCES)):
        words = output_of(output["tokens"][row, 0])
        assert output["satisfied"][row, 0], (terms, words)
        for term in terms:
            assert contains(words, term), (terms, words)


def test_rows_without_terms_are_plain_beam_search(trained):
    plain = Searcher(trained, EOS, beam_size=4).search(SOURCES)
    constrained = Searcher(trained, EOS, beam_size=4).search(SOURCES, term_arrays([[], [[9, 9]], []]))
    for row in (0, 2):
        assert output_of(constrained["tokens"][row, 0]) == output_of(plain["tokens"][row, 0])
        assert constrained["scores"][row, 0] == pytest.approx(plain["scores"][row, 0], abs=1e-4)
    assert contains(output_of(constrained["tokens"][1, 0]), [9, 9])


def test_a_term_the_model_already_writes_costs_nothing(trained):
    plain = Searcher(trained, EOS, beam_size=4).search(SOURCES[:1])
    constrained = Searcher(trained, EOS, beam_size=4).search(SOURCES[:1], term_arrays([[[5, 6]]]))
    assert output_of(constrained["tokens"][0, 0]) == output_of(plain["tokens"][0, 0]) == [4, 5, 6, 7]


def test_a_term_longer_than_the_length_limit_is_reported_unmet(trained):
    output = Searcher(trained, EOS, beam_size=3, max_length=3).search(SOURCES[:1], term_arrays([[[9, 9, 9, 9]]]))
    assert not output["satisfied"][0].any()


def test_compacted_bursts_equal_one_loop(trained):
    terms = term_arrays([[[9]], [[4, 4]], [[8], [5]]])
    one = Searcher(trained, EOS, beam_size=3).search(SOURCES, terms)
    bursts = Searcher(trained, EOS, beam_size=3, compact_every=2).search(SOURCES, terms)
    np.testing.assert_array_equal(one["tokens"], bursts["tokens"])
    np.testing.assert_allclose(one["scores"], bursts["scores"], atol=1e-4)


def test_not_with_sampling(trained):
    with pytest.raises(ValueError, match="constrained search"):
        Searcher(trained, EOS, temperature=1.0, max_length=5).search(SOURCES, term_arrays([[[9]]] * 3))


def test_no_word_continuation_follows_a_finished_term(trained):
    # the copy model writes 9 after 8 for the source [9, 8, 8, 9]; with 9 marked as continuing a word, a forced
    # [8, 8] may not be followed by it
    source = np.array([[5, 8, 8, 9]], "int32")
    free = Searcher(trained, EOS, beam_size=3).search(source, term_arrays([[[8, 8]]]))
    words = output_of(free["tokens"][0, 0])
    assert words[words.index(8) + 2] == 9
    continuations = np.zeros(10, bool)
    continuations[9] = True
    cut = Searcher(trained, EOS, beam_size=3).search(source, term_arrays([[[8, 8]]]), continuations)
    words = output_of(cut["tokens"][0, 0])
    assert contains(words, [8, 8]) and cut["satisfied"][0, 0]
    assert all(words[i + 2 : i + 3] != [9] for i in range(len(words) - 1) if words[i : i + 2] == [8, 8])
