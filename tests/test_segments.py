"""translate --split-sentences: sentences of paragraphs, long sentences cut, protected spans carried over."""

import pytest
from sentence_splitter import SentenceSplitter

from seq2seq.cli import main
from seq2seq.core.decoding import DecodingOptions
from seq2seq.model_dirs import load_translation_model
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.translation.segments import fit, protected_spans, restore, sentences, translate_paragraphs
from seq2seq.translation.translator import Translator


def words(text: str) -> int:
    return len(text.split())


def test_sentences_of_a_paragraph_and_of_empty_lines():
    splitter = SentenceSplitter(language="de")
    assert sentences("Dr. Müller kam am 3. Mai nach Berlin. Er blieb. Wirklich?", splitter) == [
        "Dr. Müller kam am 3. Mai nach Berlin.",
        "Er blieb.",
        "Wirklich?",
    ]  # no split after "Dr." or "3."
    assert sentences("", splitter) == [] and sentences(" \t ", splitter) == []


def test_long_sentences_are_cut_at_clauses_then_between_words():
    sentence = "eins zwei drei, vier fünf sechs; sieben acht neun zehn elf zwölf"
    assert fit(sentence, words, 20) == [sentence]
    assert fit(sentence, words, 6) == ["eins zwei drei, vier fünf sechs;", "sieben acht neun zehn elf zwölf"]
    pieces = fit(sentence, words, 4)
    assert all(words(piece) <= 4 for piece in pieces) and " ".join(pieces) == sentence
    assert fit("einwortdasnichtpasst", len, 5) == ["einwortdasnichtpasst"]  # one word stays whole


def test_protected_spans(toy_translation_dir):
    _, source, _ = load_translation_model(toy_translation_dir)
    text = "schreib an anna.b@example.de oder https://example.org/a?b=1. es kostet 3,50 euro am 1.5.2024 um ʘ"
    assert protected_spans(text, source) == ["anna.b@example.de", "https://example.org/a?b=1", "3,50", "1.5.2024", "ʘ"]


@pytest.fixture(scope="module")
def toy_translator(toy_translation_dir):
    model, source, target = load_translation_model(toy_translation_dir)
    return Translator(model, source, target, DecodingOptions(beam_size=2, max_source_tokens=12))


def test_paragraph_lines_keep_their_alignment(toy_translator):
    lines = [
        "Ein hund läuft im park. Eine katze schläft auf dem sofa.",
        "",
        "   ",
        "zwei kinder spielen im garten .",
        "\u2028",
        "ein mann fährt mit dem fahrrad ." * 6,
    ]
    output = translate_paragraphs(toy_translator, lines)
    assert len(output) == len(lines)
    assert output[1] == output[2] == output[4] == ""
    splitter = SentenceSplitter(language="de")
    length = lambda text: len(toy_translator.source_vocab.encode(text))  # noqa: E731
    for number in (0, 3, 5):
        pieces = [piece for sentence in sentences(lines[number], splitter) for piece in fit(sentence, length, 12)]
        assert len(pieces) >= {0: 2, 3: 1, 5: 2}[number] and all(length(piece) <= 12 for piece in pieces)
        alone = [
            restore(toy_translator, piece, hypotheses[0].text, protected_spans(piece, toy_translator.source_vocab))
            for piece, hypotheses in zip(pieces, toy_translator.translate(pieces))
        ]
        assert output[number] == " ".join(alone)  # translated as pieces, joined onto the line
    assert toy_translator.stats.truncated == 0  # the long line was cut, not truncated


def test_urls_addresses_and_numbers_are_carried_over(toy_translator):
    lines = [
        "ein hund läuft 42 mal im park .",
        "eine katze schläft auf www.sofa.de .",
        "schreib an anna@example.de und zwei kinder spielen im garten .",
    ]
    for line, output in zip(lines, translate_paragraphs(toy_translator, lines)):
        for span in protected_spans(line, toy_translator.source_vocab):
            assert span in output, (line, output)


def test_without_attention_a_missing_span_is_appended(toy_translation_dir):
    _, source, target = load_translation_model(toy_translation_dir)
    model = Seq2SeqModel(
        source_vocab_size=len(source),
        target_vocab_size=len(target),
        embedding_dim=4,
        encoder={"cell": "gru", "units": 4},
        decoder={"cell": "gru", "units": 4},
        attention="none",
    )
    model.build()
    translator = Translator(model, source, target, DecodingOptions(beam_size=1))
    assert restore(translator, "ein hund 42", "a dog", ["42"]) == "a dog 42"
    assert restore(translator, "ein hund 42", "a dog 42", ["42"]) == "a dog 42"  # present: unchanged


def test_the_cli_option(toy_translation_dir, tmp_path, capsys):
    source = tmp_path / "in.de"
    source.write_text("ein hund läuft im park . ein kind liest im park .\n\neine frau liest 7 bücher .\n")
    assert (
        main(
            [
                "translate",
                "--model",
                str(toy_translation_dir),
                "--split-sentences",
                str(source),
                "-o",
                str(tmp_path / "out.en"),
            ]
        )
        == 0
    )
    output = (tmp_path / "out.en").read_text().split("\n")
    assert len(output) == 4 and output[1] == "" and "7" in output[2]
    capsys.readouterr()
    assert (
        main(["translate", "--model", str(toy_translation_dir), "--split-sentences", "--n-best", "2", str(source)]) == 2
    )
    assert "does not go with --n-best" in capsys.readouterr().err
