"""Translation end to end: training on a toy corpus, `translate`, `build-vocab`, bad input."""

import shutil

import numpy as np
import pytest
from helpers import DATA, toy_translation_config

from seq2seq.cli import main
from seq2seq.core.decoding import DecodingOptions
from seq2seq.model_dirs import load_translation_model, save_translation_model
from seq2seq.outputs import atomic_write
from seq2seq.translation.translator import Translator

SOURCES = (DATA / "toy.de").read_text().splitlines()
REFERENCES = (DATA / "toy.en").read_text().splitlines()


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("beam_size", [1, 4])
def test_overfitted_model_translates_its_training_sentences(toy_translation_dir, beam_size):
    model, source, target = load_translation_model(toy_translation_dir)
    results = Translator(model, source, target, DecodingOptions(beam_size=beam_size)).translate(SOURCES)
    assert [hypotheses[0].text for hypotheses in results] == REFERENCES


def test_save_and_load_give_identical_translations(toy_translation_dir, tmp_path):
    model, source, target = load_translation_model(toy_translation_dir)
    before = Translator(model, source, target, DecodingOptions(beam_size=3, n_best=3)).translate(SOURCES[:4])
    save_translation_model(tmp_path / "copy", model, source, target)
    again = Translator(*load_translation_model(tmp_path / "copy"), DecodingOptions(beam_size=3, n_best=3)).translate(
        SOURCES[:4]
    )
    assert [[h.text for h in n] for n in again] == [[h.text for h in n] for n in before]
    np.testing.assert_allclose([[h.score for h in n] for n in again], [[h.score for h in n] for n in before], rtol=1e-5)


def test_translate_cli_keeps_one_line_per_input_line(toy_translation_dir, tmp_path, capsys):
    lines = ["ein hund läuft im park .", "", "   ", "hund " * 2000, "!!! ... ???", "東京 の 犬", "Привет мир"]
    source = tmp_path / "in.de"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.en"
    code, out, err = run(capsys, "translate", "--model", toy_translation_dir, source, "-o", output, "--beam", 2)
    assert code == 0 and out == ""
    translations = output.read_text(encoding="utf-8").split("\n")
    assert translations[-1] == "" and len(translations) - 1 == len(lines)
    assert translations[0] == "a dog runs in the park ."
    assert translations[1] == translations[2] == ""
    assert "1 source lines longer than 250 subwords were truncated" in err
    assert "2 empty lines" in err


def test_translate_n_best_and_stdin(toy_translation_dir, capsys, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"eine frau liest ein buch .\n")))
    code, out, _ = run(capsys, "translate", "--model", toy_translation_dir, "--beam", 3, "--n-best", 3)
    rows = [line.split(" ||| ") for line in out.splitlines()]
    assert code == 0 and len(rows) == 3 and all(row[0] == "0" for row in rows)
    assert rows[0][1] == "a woman reads a book ."
    scores = [float(row[2]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_translate_bad_input(toy_translation_dir, tmp_path, capsys):
    bad = tmp_path / "bad.de"
    bad.write_bytes(b"gut\n" + b"\xe4 schlecht\n")
    code, _, err = run(capsys, "translate", "--model", toy_translation_dir, bad)
    assert code == 2 and f"{bad}, line 2: invalid UTF-8" in err
    code, _, err = run(capsys, "translate", "--model", toy_translation_dir, DATA / "toy.de", "--beam", 2, "--n-best", 3)
    assert code == 2 and "--n-best (3) must not exceed --beam (2)" in err


def test_model_directory_errors(toy_translation_dir, trained_lm_dir, tmp_path, capsys):
    code, _, err = run(capsys, "translate", "--model", trained_lm_dir, DATA / "toy.de")
    assert code == 2 and "expected 'seq2seq-translation/1'" in err  # the manifest's kind is checked first
    broken = tmp_path / "broken"
    shutil.copytree(toy_translation_dir, broken)
    (broken / "source.spm").unlink()
    code, _, err = run(capsys, "translate", "--model", broken, DATA / "toy.de")
    assert code == 2 and "missing source.spm" in err
    shutil.copyfile(toy_translation_dir / "source.spm", broken / "source.spm")
    (broken / "target.spm").write_bytes(b"garbage")
    code, _, err = run(capsys, "translate", "--model", broken, DATA / "toy.de")
    assert code == 2 and "target.spm: not a SentencePiece model" in err
    (broken / "manifest.json").write_text('{"kind": "seq2seq-language-model/1"}')
    code, _, err = run(capsys, "translate", "--model", broken, DATA / "toy.de")
    assert code == 2 and "expected 'seq2seq-translation/1'" in err


def test_interrupted_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(OSError):
        with atomic_write(target) as handle:
            handle.write("partial")
            raise OSError("disk full")
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_parallel_files_of_different_length_stop_training(tmp_path, capsys):
    (tmp_path / "c.de").write_text("a\nb\n")
    (tmp_path / "c.en").write_text("a\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"data: {{dir: {tmp_path}, train_prefix: c, valid_prefix: c, test_prefix: null}}\nrun_dir: {tmp_path / 'run'}\n"
    )
    code, _, err = run(capsys, "train", config)
    assert code == 2
    assert f"{tmp_path / 'c.de'} has 2 lines, {tmp_path / 'c.en'} has 1" in err


@pytest.mark.slow
def test_build_vocab_and_resume(tmp_path, capsys):
    config = tmp_path / "toy.yaml"
    import yaml

    from seq2seq import config as config_lib

    config_lib.save(toy_translation_config(tmp_path / "run", epochs=1), config)
    code, out, _ = run(capsys, "build-vocab", config)
    assert code == 0 and "pieces" in out
    code, _, err = run(capsys, "build-vocab", config)
    assert code == 2 and "pass --overwrite" in err
    assert run(capsys, "train", config)[0] == 0
    assert run(capsys, "train", config, "--set", "training.epochs=2")[0] == 0
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["0", "1"]
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["training"]["epochs"] == 2


@pytest.mark.slow
def test_epoch_logs_keep_training_token_counts(tmp_path):
    """Validation reuses the metric objects; the training count must not be overwritten by it."""
    import csv
    import dataclasses

    from seq2seq.core.subwords import SubwordVocabulary
    from seq2seq.translation.config import CorpusConfig
    from seq2seq.translation.training import train_translation_model

    for language in ("de", "en"):
        text = (DATA / f"toy.{language}").read_text()
        (tmp_path / f"toy.{language}").write_text(text)
        (tmp_path / f"val.{language}").write_text("\n".join(text.splitlines()[:3]) + "\n")
    config = toy_translation_config(tmp_path / "run", epochs=1, shuffle_buffer=0)
    config = dataclasses.replace(
        config, data=dataclasses.replace(config.data, dir=str(tmp_path), valid=(CorpusConfig(prefix="val"),))
    )
    train_translation_model(config)
    target = SubwordVocabulary.load(tmp_path / "run" / "target.spm")
    expected = sum(len(target.encode(line)) + 1 for line in REFERENCES)  # subwords + <eos>
    with open(tmp_path / "run" / "history.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    assert float(row["target_tokens"]) == expected
    assert float(row["val_target_tokens"]) == sum(len(target.encode(line)) + 1 for line in REFERENCES[:3])
    assert float(row["tokens_per_second"]) > 0


def test_many_source_lengths_in_one_translator(toy_translation_dir):
    # One compiled search per batch shape: a dozen widths must not relax the source length to unknown.
    model, source, target = load_translation_model(toy_translation_dir)
    lines = [" ".join(["hund"] * length) for length in range(1, 100, 8)]
    results = Translator(model, source, target, DecodingOptions(beam_size=2)).translate(lines, batch_size=1)
    assert len(results) == len(lines) and all(len(hypotheses) == 1 for hypotheses in results)


def test_translate_without_a_model_says_how_to_get_one(tmp_path, capsys, monkeypatch):
    from seq2seq import catalog

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(catalog, "DEFAULT_TRANSLATION_MODEL", "no_such_model")
    (tmp_path / "in.de").write_text("ein hund .\n")
    assert main(["translate", str(tmp_path / "in.de")]) == 2
    err = capsys.readouterr().err
    assert "no --model given, and the default model is not installed" in err and "Pass --model DIR" in err


def test_translate_uses_the_default_model_from_the_user_folder_first(
    toy_translation_dir, tmp_path, capsys, monkeypatch
):
    import shutil

    monkeypatch.setenv("SEQ2SEQ_HOME", str(tmp_path))  # its models/general_de_en comes before the shipped one
    shutil.copytree(toy_translation_dir, tmp_path / "models" / "general_de_en")
    assert main(["translate", str(DATA / "toy.de"), "--beam", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == REFERENCES


def test_the_default_model_translates_the_example_file_as_the_quickstart_shows(capsys, monkeypatch):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    assert main(["translate", "saved_models/example.de"]) == 0
    readme = (root / "README.md").read_text(encoding="utf-8")
    shown = readme.split("Output of the first command", 1)[1].split("```\n", 2)[1]  # the Quickstart's block
    assert capsys.readouterr().out == shown and len(shown.splitlines()) == 9


def test_long_sentences_come_in_smaller_batches():
    from seq2seq.translation.translator import length_batches

    encoded = [(index, [5] * length) for index, length in enumerate([2, 2, 3, 3, 3, 10, 10, 40])]
    batches = length_batches(encoded, batch_size=4, max_tokens=20)
    assert [[index for index, _ in batch] for batch in batches] == [[0, 1, 2, 3], [4, 5], [6], [7]]
    assert all(len(batch) * len(batch[-1][1]) <= 20 for batch in batches[:-1])  # the 40-token line is alone
