"""Word alignments from the model's attention: Pharaoh pairs on the words the user sees."""

from types import SimpleNamespace

import pytest
from helpers import DATA, one_error, run

from seq2seq.errors import UserError
from seq2seq.translation.alignment import align, pharaoh, word_numbers


def test_pieces_map_to_white_space_words():
    assert word_numbers(["\u2581Guten", "\u2581Mor", "gen", "."]) == [0, 1, 1, 1]
    assert word_numbers(["x", "\u2581y"]) == [0, 1]  # a first piece without the marker is word 0
    assert pharaoh([(0, 1), (2, 0)]) == "0-1 2-0"


def test_translate_writes_every_target_word_aligned_within_the_sentences(toy_translation_dir, capsys):
    code, out, err = run(capsys, "translate", "--model", toy_translation_dir, DATA / "toy.de", "--alignments")
    assert code == 0, err
    sources = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()
    lines = out.splitlines()
    assert len(lines) == len(sources)
    for source, line in zip(sources, lines):
        text, _, pairs = line.partition(" ||| ")
        links = [tuple(map(int, pair.split("-"))) for pair in pairs.split()]
        assert links == sorted(set(links))
        assert all(0 <= s < len(source.split()) and 0 <= t < len(text.split()) for s, t in links)
        assert links or not text


def test_content_only_links_are_those_both_directions_agree_on():
    import numpy as np

    from seq2seq.translation.alignment import word_pairs

    source, target = ["\u2581Sind", "\u2581Sie", "\u2581Tom", "?"], ["\u2581Are", "\u2581you", "\u2581Tom", "?"]
    matrix = np.array(
        [  # rows: target pieces; columns: source pieces; the full stop draws the first word's attention
            [0.2, 0.1, 0.1, 0.6],
            [0.1, 0.7, 0.1, 0.1],
            [0.1, 0.1, 0.7, 0.1],
            [0.1, 0.1, 0.1, 0.7],
        ]
    )
    assert word_pairs(matrix, source, target) == [(1, 1), (2, 0), (2, 2)]  # Are -> "Tom?" (through "?")
    assert word_pairs(matrix, source, target, content_only=True) == [(0, 0), (1, 1), (2, 2)]


def test_the_api_gives_what_the_command_writes(toy_translation_dir, capsys):
    import seq2seq

    sources = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()[:3] + [""]
    translator = seq2seq.Translator.load(toy_translation_dir, seq2seq.DecodingOptions(beam_size=1))
    translations = [t.text for t in translator.translate(sources)]
    pairs = translator.align(sources, translations)
    assert pairs[-1] == [] and all(pairs[:-1])
    code, out, _ = run(
        capsys, "translate", "--model", toy_translation_dir, DATA / "toy.de", "--alignments", "--beam", "1"
    )
    assert [line.partition(" ||| ")[2] for line in out.splitlines()[:3]] == [pharaoh(p) for p in pairs[:3]]


def test_alignments_refuse_what_they_cannot_serve(toy_translation_dir, capsys):
    code, _, err = run(
        capsys, "translate", "--model", toy_translation_dir, DATA / "toy.de", "--alignments", "--n-best", "2"
    )
    assert code == 2 and "not with --n-best" in one_error(err)
    without = SimpleNamespace(decoder=SimpleNamespace(attention_kind="none"))
    with pytest.raises(UserError, match="has none"):
        align(without, None, None, ["a"], ["b"])
