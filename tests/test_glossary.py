"""Glossaries: the file format and its errors, term matching, and forced terms in translate, the API and serve."""

import pytest
from helpers import DATA, one_error, run

from seq2seq.errors import UserError
from seq2seq.translation.glossary import Glossary

SOURCES = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()


def write(tmp_path, text: str):
    path = tmp_path / "glossary.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_format_comments_and_blank_lines(tmp_path):
    glossary = Glossary.load(write(tmp_path, "# terms\n\nhund\tcat\nim  park\tin the garden\n"))
    assert [(t.source, t.target, t.line) for t in glossary.terms] == [
        ("hund", "cat", 3),
        ("im park", "in the garden", 4),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hund cat\n", "line 1: 1 tab-separated fields"),
        ("hund\tcat\textra\n", "line 1: 3 tab-separated fields"),
        ("ok\tfine\n\t cat\n", "line 2: the source and the target term must both be non-empty"),
        ("Hund\tdog\nhund\tcat\n", "line 2: source term 'hund' is already listed on line 1"),
    ],
)
def test_bad_lines_are_named(tmp_path, text, expected):
    with pytest.raises(UserError, match=expected):
        Glossary.load(write(tmp_path, text))


def test_matching_ignores_case_takes_whole_words_and_the_longest_term():
    glossary = Glossary([("Haus", "home"), ("Bundes regierung", "Federal Government"), ("Bundes", "federal")])
    assert [t.target for t in glossary.matches("Das HAUS und das Hausboot.")] == ["home"]
    assert [t.target for t in glossary.matches("die bundes  Regierung, der Bundes-Rat")] == [
        "Federal Government",
        "federal",
    ]
    assert glossary.matches("Häuser") == []  # inflection is the user's concern


def test_a_term_the_vocabulary_cannot_spell_is_an_error_naming_the_line(toy_translation_dir, tmp_path, capsys):
    path = write(tmp_path, "hund\tdog\nkatze\t\u2603\n")
    code, _, err = run(capsys, "translate", "--model", toy_translation_dir, "--glossary", path, DATA / "toy.de")
    assert code == 2
    assert f"{path}, line 2: the model's target vocabulary cannot spell '\u2603'" in one_error(err)


def test_glossary_with_sampling_is_refused(toy_translation_dir, tmp_path, capsys):
    path = write(tmp_path, "hund\tcat\n")
    code, _, err = run(
        capsys, "translate", "--model", toy_translation_dir, "--glossary", path, "--beam", "1", "--temperature", "1"
    )
    assert code == 2 and "--glossary" in one_error(err)


@pytest.mark.parametrize("beam", ["1", "3"])
def test_translate_forces_the_terms_and_leaves_other_lines_alone(toy_translation_dir, tmp_path, capsys, beam):
    # cat for hund: the toy model has only ever written "dog" for it; "zwei" gets a two-word term
    path = write(tmp_path, "hund\tcat\nzwei\tthe two\n")
    common = ("translate", "--model", toy_translation_dir, "--beam", beam, DATA / "toy.de")
    code, plain, _ = run(capsys, *common)
    assert code == 0
    code, forced, err = run(capsys, *common, "--glossary", path)
    assert code == 0, err
    assert "glossary terms forced" in err
    for source, before, after in zip(SOURCES, plain.splitlines(), forced.splitlines()):
        words = after.split()
        if "hund" in source.split():
            assert "cat" in words and "dog" in before.split()
        if "zwei" in source.split():
            assert "the two" in after
        if "hund" not in source.split() and "zwei" not in source.split():
            assert after == before  # a term the source does not contain is not forced


def test_the_api_takes_a_dict_and_matches_the_command(toy_translation_dir):
    import seq2seq

    translator = seq2seq.Translator.load(toy_translation_dir, seq2seq.DecodingOptions(beam_size=3))
    forced = translator.translate(SOURCES[:2], glossary={"Park": "garden"})
    assert "garden" in forced[0].text.split()
    assert forced[1].text == translator.translate(SOURCES[1:2])[0].text
    assert translator.stats.terms == 1 and translator.stats.unmet == 0
