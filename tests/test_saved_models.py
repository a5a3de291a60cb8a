"""Every model in saved_models/ loads with this code and computes what its card shows.

The shipped models were written in weight layout 1 (before the output layer
moved into `head`); loading upgrades them in memory. The figures pinned here
are the README's: a language-model score of one line and the translation of
the first line of `saved_models/example.de`.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from seq2seq.cli import main
from seq2seq.core.decoding import DecodingOptions
from seq2seq.lm.scoring import score_lines
from seq2seq.model_dirs import load_language_model, load_perception_model, load_translation_model, save_language_model
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.models.ensemble import members_of
from seq2seq.models.language_model import RNNLanguageModel
from seq2seq.translation.translator import Translator

SAVED = Path(__file__).parents[1] / "saved_models"
DATA = Path(__file__).parents[2] / "shared" / "data"
FSDD = DATA / "fsdd"
DIRECTORIES = sorted(path.parent for path in SAVED.glob("*/manifest.json"))


def test_every_shipped_model_is_found():
    assert {path.name for path in DIRECTORIES} >= {
        "lm_ptb_lstm",
        "lm_ptb_rnn",
        "lm_shakespeare_char",
        "multi30k_de_en",
        "general_de_en",
    }


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.name)
def test_every_saved_model_loads(directory):
    kind = json.loads((directory / "manifest.json").read_text())["kind"]
    if kind.startswith("seq2seq-language-model"):
        model, vocab = load_language_model(directory)
        assert isinstance(model, RNNLanguageModel) and model.vocab_size == len(vocab)
    elif kind.startswith("seq2seq-perception"):
        model, vocab = load_perception_model(directory)
        assert all(isinstance(member, Seq2SeqModel) for member in members_of(model))
        assert model.target_vocab_size == len(vocab)
    else:
        model, source, target = load_translation_model(directory)
        assert isinstance(model, Seq2SeqModel) and model.target_vocab_size == len(target)


def test_the_ptb_model_scores_the_readme_line_as_its_card_shows():
    model, vocab = load_language_model(SAVED / "lm_ptb_lstm")
    (score,) = score_lines(model, vocab, ["the company said it expects higher earnings"])
    assert (round(score.log_prob, 4), score.tokens) == (-22.5897, 8)


def test_the_shipped_translator_translates_the_first_example_line():
    model, source, target = load_translation_model(SAVED / "multi30k_de_en")
    line = (SAVED / "example.de").read_text(encoding="utf-8").splitlines()[0]
    (hypotheses,) = Translator(model, source, target, DecodingOptions(beam_size=5)).translate([line])
    assert hypotheses[0].text == "A man rides his bike through the city."


@pytest.mark.parametrize(
    "corpus, bleu, options",
    [
        ("tatoeba/dev", "44.13", []),
        ("news/dev", "15.46", []),
        ("multi30k/val", "39.98", []),
        ("multi30k/test_2016_flickr", "39.38", []),
        ("multi30k/test_2016_flickr", "39.34", ["--shortlist"]),  # with the directory's shortlist.npz
    ],
)
@pytest.mark.slow  # scores a shipped model on a real corpus
def test_the_default_model_reproduces_its_cards_greedy_scores(corpus, bleu, options, capsys):
    if not (DATA / f"{corpus}.de.gz").is_file():
        pytest.skip(f"{corpus} not found under {DATA}")
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(SAVED / "general_de_en"),
                "--source",
                str(DATA / f"{corpus}.de.gz"),
                "--reference",
                str(DATA / f"{corpus}.en.gz"),
                "--beam",
                "1",
                *options,
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0].split("\t")[:2] == ["BLEU", bleu]  # the card's table


def test_an_upgraded_model_saves_in_the_new_layout_with_the_same_outputs(tmp_path):
    model, vocab = load_language_model(SAVED / "lm_shakespeare_char")
    save_language_model(tmp_path / "copy", model, vocab)
    assert json.loads((tmp_path / "copy" / "manifest.json").read_text())["layout"] == 2
    again, _ = load_language_model(tmp_path / "copy")
    ids = np.array([vocab.encode("ROMEO: hello")], "int32")
    np.testing.assert_allclose(np.asarray(again(ids)), np.asarray(model(ids)), rtol=1e-6, atol=1e-6)


def old_run_folder(tmp_path):
    """A copy of the 0.1 run folder in tests/data/layout1_run (see its README)."""
    run = tmp_path / "old_run"
    shutil.copytree(SAVED.parent / "tests" / "data" / "layout1_run", run)
    shutil.copyfile(run / "source.spm", run / "target.spm")
    return run


def test_a_version_0_1_run_folder_still_averages_to_the_same_model(tmp_path):
    run = old_run_folder(tmp_path)
    old = tmp_path / "old_model"
    old.mkdir()
    for name in ("source.spm", "target.spm"):
        shutil.copyfile(run / name, old / name)
    shutil.copyfile(run / "averaged_model.keras", old / "model.keras")
    shutil.copyfile(run / "averaged_manifest.json", old / "manifest.json")
    assert main(["average-checkpoints", str(run), "--last", "1", "-o", str(tmp_path / "new_model")]) == 0
    expected, source, _ = load_translation_model(old)
    averaged, _, _ = load_translation_model(tmp_path / "new_model")
    assert averaged.tie_embeddings  # the tied output bias and projection moved into `head`
    inputs = {
        "source_ids": np.array([source.encode("ein Hund läuft")], "int32"),
        "target_inputs": np.array([[2, 5, 6, 7]], "int32"),
    }
    np.testing.assert_allclose(np.asarray(averaged(inputs)), np.asarray(expected(inputs)), rtol=1e-5, atol=1e-5)


def test_a_version_0_1_backup_is_refused_before_anything_changes(tmp_path, capsys):
    run = old_run_folder(tmp_path)
    (run / "backup").mkdir()
    shutil.copyfile(run / "checkpoints" / "epoch-002.weights.h5", run / "backup" / "latest.weights.h5")
    before = (run / "config.yaml").read_text()
    config = tmp_path / "c.yaml"
    config.write_text(
        before.replace("run_dir: tests/data/layout1_run", f"run_dir: {run}").replace(
            "dir: tests/data", f"dir: {SAVED.parent / 'tests' / 'data'}"
        )
    )
    assert main(["train", str(config)]) == 2
    assert "written by seq2seq 0.1 and cannot be resumed" in capsys.readouterr().err
    assert (run / "config.yaml").read_text() == before


@pytest.mark.slow  # scores a shipped model on a real corpus
@pytest.mark.skipif(not (FSDD / "recordings").is_dir(), reason=f"FSDD not found at {FSDD}")
def test_the_speech_model_reproduces_its_card(capsys):
    recordings = [str(FSDD / "recordings" / name) for name in ("3_theo_7.wav", "8_theo_0.wav", "0_theo_12.wav")]
    assert main(["transcribe", "--model", str(SAVED / "speech_digits"), *recordings]) == 0
    assert capsys.readouterr().out == "three\n\nzero zero\n"  # the README's lines
    from seq2seq.evaluation.recognition import evaluate_model

    report, _ = evaluate_model(SAVED / "speech_digits", beam_size=5)
    scores = report["scores"]
    assert (round(scores["test"]["wer"], 2), round(scores["single"]["wer"], 2), round(scores["valid"]["wer"], 2)) == (
        4.10,
        4.80,
        0.13,
    )  # the card's table


@pytest.mark.slow  # scores a shipped model on a real corpus
def test_the_captioning_model_reproduces_its_card(capsys):
    examples = sorted(str(path) for path in (SAVED / "captions_scenes" / "examples").glob("*.png"))
    assert main(["caption", "--model", str(SAVED / "captions_scenes"), *examples]) == 0
    assert capsys.readouterr().out == (
        "a small red triangle below a large blue circle\na small green circle above a large yellow triangle\n"
    )  # the README's lines
    from seq2seq.evaluation.recognition import evaluate_model

    report, figures = evaluate_model(SAVED / "captions_scenes", beam_size=5)
    test = report["scores"]["test"]
    assert (round(test["exact_match"], 1), round(test["wer"], 2), round(test["bleu"], 2)) == (90.8, 1.70, 97.39)
    assert report["scores"]["valid"]["exact_match"] == 100.0 and "attention.png" in figures
