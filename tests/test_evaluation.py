"""sacrebleu scores: identical to the sacrebleu command line, multi-reference, bad input."""

import pytest
from helpers import DATA, HYPOTHESES, REFERENCES, SECOND, sacrebleu_cli, write

from seq2seq.errors import UserError
from seq2seq.evaluation.scores import corpus_scores, read_parallel


@pytest.mark.parametrize("references", [[REFERENCES], [REFERENCES, SECOND]], ids=["one", "two"])
def test_scores_match_the_sacrebleu_command_line(tmp_path, references):
    hypothesis = write(tmp_path / "hyp.txt", HYPOTHESES)
    reference_files = [write(tmp_path / f"ref{i}.txt", lines) for i, lines in enumerate(references)]
    hypotheses, loaded = read_parallel(hypothesis, reference_files)
    scores = corpus_scores(hypotheses, loaded)
    for metric in ("bleu", "chrf", "ter"):
        assert scores[metric]["score"] == pytest.approx(sacrebleu_cli(hypothesis, reference_files, metric), abs=1e-6)
    assert scores["bleu"]["signature"].startswith(f"nrefs:{len(references)}|case:mixed")
    assert scores["bleu_lowercase"]["score"] >= scores["bleu"]["score"]  # "A woman" matches "a woman"
    assert len(scores["bleu"]["precisions"]) == 4


def test_bad_input(tmp_path):
    hypothesis = write(tmp_path / "hyp.txt", HYPOTHESES)
    short = write(tmp_path / "short.txt", REFERENCES[:2])
    with pytest.raises(UserError, match=f"{hypothesis} has 4 lines, {short} has 2"):
        read_parallel(hypothesis, [short])
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(UserError, match="the hypothesis file is empty"):
        read_parallel(empty, [short])
    reference = write(tmp_path / "ref.txt", REFERENCES)
    with pytest.warns(UserWarning, match="identical to the hypothesis"):
        read_parallel(hypothesis, [hypothesis])
    with pytest.warns(UserWarning, match="identical to an earlier reference"):
        read_parallel(hypothesis, [reference, reference])


def test_evaluate_command_writes_reports(tmp_path, capsys):
    import json

    from seq2seq.cli import main

    hypothesis = write(tmp_path / "hyp.txt", HYPOTHESES)
    reference = write(tmp_path / "ref.txt", REFERENCES)
    report = tmp_path / "report"
    assert (
        main(["evaluate", "--hypothesis", str(hypothesis), "--reference", str(reference), "--report", str(report)]) == 0
    )
    out = capsys.readouterr().out
    document = json.loads((report / "report.json").read_text())
    assert document["schema"] == "seq2seq-evaluation-report/1" and document["data"]["lines"] == 4
    assert document["scores"]["bleu"]["score"] == pytest.approx(
        sacrebleu_cli(hypothesis, [reference], "bleu"), abs=1e-6
    )
    assert f"BLEU\t{document['scores']['bleu']['score']:.2f}" in out
    assert "| BLEU |" in (report / "report.md").read_text()
    assert (
        main(["evaluate", "--hypothesis", str(hypothesis), "--reference", str(reference), "--report", str(report)]) == 2
    )
    assert "pass --overwrite" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--hypothesis",
                str(hypothesis),
                "--reference",
                str(hypothesis),
                "--report",
                str(report),
                "--overwrite",
            ]
        )
        == 0
    )
    assert "warning:" in capsys.readouterr().err and (report / "report.json").exists()


def test_evaluate_with_a_model(toy_translation_dir, tmp_path, capsys):
    from seq2seq.cli import main

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
                "2",
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("BLEU\t100.00")  # the toy model memorised its corpus
    import json

    document = json.loads((tmp_path / "r" / "report.json").read_text())
    assert document["decoding"]["beam"] == 2 and document["model"]["parameters"] > 0
    assert document["timing"]["sentences_per_second"] > 0


def test_paired_bootstrap_reports_both_systems(tmp_path, capsys):
    import json

    from seq2seq.cli import main

    hypothesis = write(tmp_path / "hyp.txt", HYPOTHESES * 5)
    baseline = write(tmp_path / "base.txt", SECOND * 5)
    reference = write(tmp_path / "ref.txt", REFERENCES * 5)
    assert (
        main(
            [
                "evaluate",
                "--hypothesis",
                str(hypothesis),
                "--reference",
                str(reference),
                "--baseline",
                str(baseline),
                "--bootstrap-samples",
                "200",
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert "paired bootstrap BLEU: baseline" in capsys.readouterr().out
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    bleu = report["comparison"]["bleu"]
    assert bleu["system"]["score"] == pytest.approx(report["scores"]["bleu"]["score"])
    assert bleu["baseline"]["score"] == pytest.approx(sacrebleu_cli(baseline, [reference], "bleu"), abs=1e-6)
    assert 0.0 <= bleu["system"]["p_value"] <= 1.0 and bleu["system"]["ci95"] > 0
    assert "bs:200" in bleu["signature"]
    assert "| BLEU |" in (tmp_path / "r" / "report.md").read_text().split("Paired bootstrap")[1]
