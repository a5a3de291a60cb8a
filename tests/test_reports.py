"""Evaluation reports: JSON schema, Markdown and figures, tfds input, sentence analysis, `compare`."""

import json

import jsonschema
import pytest
from helpers import DATA, HYPOTHESES, REFERENCES, SECOND, validated, write

from seq2seq.cli import main
from seq2seq.evaluation.reports import SCHEMA_FILE
from seq2seq.evaluation.scores import sentence_analysis

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_schema_rejects_a_broken_report(tmp_path):
    hypothesis, reference = write(tmp_path / "h", HYPOTHESES), write(tmp_path / "r", REFERENCES)
    assert (
        main(
            [
                "evaluate",
                "--hypothesis",
                str(hypothesis),
                "--reference",
                str(reference),
                "--report",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    document = validated(tmp_path / "report")
    schema = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    del document["scores"]["chrf"]["signature"]
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(document)


def test_report_with_a_model_has_figures_and_validates(toy_translation_dir, tmp_path, capsys):
    report = tmp_path / "report"
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(toy_translation_dir),
                "--source",
                str(DATA / "toy.de"),
                "--reference",
                str(DATA / "toy.en"),
                "--beam",
                "1",
                "--report",
                str(report),
            ]
        )
        == 0
    )
    document = validated(report)
    figures = document["figures"]
    assert "bleu_by_length.png" in figures and "training_curves.png" in figures
    assert sum(name.startswith("attention_") for name in figures) == 3
    for name in figures:
        assert (report / name).read_bytes().startswith(PNG_MAGIC)
    text = (report / "report.md").read_text()
    assert all(f"]({name})" in text for name in figures)
    assert "## Highest sentence chrF2" in text and "## Lowest sentence chrF2" in text
    analysis = document["analysis"]
    assert analysis["length_unit"] == "source words"
    assert sum(bucket["sentences"] for bucket in analysis["length_buckets"]) == document["data"]["lines"]


def test_sentence_analysis_buckets_and_extremes():
    short = ["a dog runs .", "a cat sleeps ."]
    long = [" ".join(["word"] * 14), " ".join(["thing"] * 12)]
    references = [short + long]
    hypotheses = short + ["nothing alike here", "completely different"]
    analysis = sentence_analysis(hypotheses, references, sources=short + long, extremes=2)
    assert [(b["range"], b["sentences"]) for b in analysis["length_buckets"]] == [("0-10", 2), ("11-20", 2)]
    assert analysis["length_buckets"][0]["bleu"] == pytest.approx(100) and analysis["length_buckets"][1]["bleu"] < 5
    assert {entry["line"] for entry in analysis["best"]} == {1, 2}
    assert {entry["line"] for entry in analysis["worst"]} == {3, 4}
    assert analysis["best"][0]["chrf"] >= analysis["best"][1]["chrf"] > analysis["worst"][0]["chrf"]
    with_empty = sentence_analysis(["a b", "", "x"], [["a b", "c", "x"]], sources=["a b", "", "x y"])
    assert [(b["range"], b["sentences"]) for b in with_empty["length_buckets"]] == [("0-10", 3)]
    no_source = sentence_analysis(hypotheses, references)
    assert no_source["length_unit"] == "reference words" and no_source["best"][0]["source"] is None


def test_evaluate_from_tfds_mock_data(toy_translation_dir, tmp_path, capsys):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=7):
        assert (
            main(
                [
                    "evaluate",
                    "--model",
                    str(toy_translation_dir),
                    "--tfds",
                    "wmt14_translate/de-en",
                    "--split",
                    "test",
                    "--beam",
                    "1",
                    "--report",
                    str(tmp_path / "report"),
                ]
            )
            == 0
        )
    document = validated(tmp_path / "report")
    assert document["data"]["tfds"] == "wmt14_translate/de-en" and document["data"]["split"] == "test"
    assert document["data"]["lines"] == 7 and document["data"]["references"] == []
    assert "tfds `wmt14_translate/de-en` split `test`" in (tmp_path / "report" / "report.md").read_text()
    capsys.readouterr()
    with tfds.testing.mock_data(num_examples=2):
        assert (
            main(
                [
                    "evaluate",
                    "--model",
                    str(toy_translation_dir),
                    "--tfds",
                    "wmt14_translate/de-en",
                    "--reference",
                    str(DATA / "toy.en"),
                ]
            )
            == 2
        )
    assert "drop --reference" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--hypothesis", "H", "--model", "M"], "not both"),
        (["--model", "M"], "either --source FILE or --tfds"),
        (["--hypothesis", "H"], "at least one --reference"),
    ],
)
def test_evaluate_mode_errors(argv, message, capsys):
    assert main(["evaluate", *argv]) == 2
    assert message in capsys.readouterr().err


def test_compare_tables_reports_side_by_side(tmp_path, capsys):
    reference = write(tmp_path / "ref.txt", REFERENCES)
    for name, lines in (("a", HYPOTHESES), ("b", SECOND)):
        assert (
            main(
                [
                    "evaluate",
                    "--hypothesis",
                    str(write(tmp_path / f"{name}.txt", lines)),
                    "--reference",
                    str(reference),
                    "--report",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a" / "report.json"), str(tmp_path / "b")]) == 0
    table = capsys.readouterr().out.splitlines()
    scores = [json.loads((tmp_path / name / "report.json").read_text())["scores"] for name in "ab"]
    assert table[0] == f"|  | `{tmp_path / 'a' / 'report.json'}` | `{tmp_path / 'b' / 'report.json'}` |"
    assert f"| BLEU | {scores[0]['bleu']['score']:.2f} | {scores[1]['bleu']['score']:.2f} |" in table
    assert f"| TER | {scores[0]['ter']['score']:.2f} | {scores[1]['ter']['score']:.2f} |" in table
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "bad.json")]) == 2
    assert "bad.json: not a seq2seq evaluation report" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "missing.json")]) == 2
    assert "report not found" in capsys.readouterr().err


def test_evaluate_counts_truncated_sources(toy_translation_dir, tmp_path, capsys):
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(toy_translation_dir),
                "--source",
                str(DATA / "toy.de"),
                "--reference",
                str(DATA / "toy.en"),
                "--beam",
                "1",
                "--max-source-tokens",
                "3",
                "--report",
                str(tmp_path / "report"),
            ]
        )
        == 0
    )
    document = validated(tmp_path / "report")
    assert document["decoding"]["max_source_tokens"] == 3 and document["decoding"]["truncated"] == 10
    assert "warning: 10 source lines longer than 3 subwords were truncated" in capsys.readouterr().err
