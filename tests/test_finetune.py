"""`seq2seq finetune`: the model's own config and vocabulary, the user's corpora, mixing, a new model directory."""

import shutil

import numpy as np
import pytest
from helpers import DATA, one_error, run

from seq2seq.translation.finetuning import finetuning_config


def test_the_config_mixes_the_models_corpora_by_their_weights(toy_translation_dir, tmp_path):
    config, notes = finetuning_config(toy_translation_dir, [str(DATA / "toy")], [], 0.4, tmp_path / "run")
    weights = {corpus.prefix: corpus.weight for corpus in config.data.train}
    assert weights == {str(DATA / "toy"): pytest.approx(0.6), "toy": pytest.approx(0.4)}
    assert [corpus.prefix for corpus in config.data.valid] == ["toy"]  # the model's own validation set
    assert config.training.init_from == str(toy_translation_dir) and config.training.learning_rate == 0.0002
    assert config.model == finetuning_config(toy_translation_dir, [str(DATA / "toy")], [], 0.0, tmp_path)[0].model
    assert notes == []


def test_without_the_models_corpora_it_says_so_and_does_not_mix(toy_translation_dir, tmp_path):
    moved = tmp_path / "model"
    shutil.copytree(toy_translation_dir, moved)
    text = (moved / "config.yaml").read_text().replace(f"dir: {DATA}", f"dir: {tmp_path / 'nowhere'}")
    (moved / "config.yaml").write_text(text)
    config, notes = finetuning_config(moved, [str(DATA / "toy")], [str(DATA / "toy")], 0.3, tmp_path / "run")
    assert [corpus.weight for corpus in config.data.train] == [1.0]
    assert len(notes) == 1 and "no mixing" in notes[0]


def test_missing_files_are_named(toy_translation_dir, tmp_path, capsys):
    code, _, err = run(
        capsys, "finetune", "--model", toy_translation_dir, "--train", tmp_path / "mine", "-o", tmp_path / "out"
    )
    assert code == 2 and f"--train {tmp_path / 'mine'}: expected" in one_error(err) and "mine.de and" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_finetune_writes_a_model_with_the_same_vocabulary_and_new_weights(toy_translation_dir, tmp_path, capsys):
    from seq2seq.model_dirs import load_translation_model

    output = tmp_path / "tuned"
    argv = ["finetune", "--model", toy_translation_dir, "--train", DATA / "toy", "--mix", "0.5", "-o", output]
    argv += ["--epochs", "1", "--steps-per-epoch", "2", "--run-dir", tmp_path / "run", "--learning-rate", "0.01"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    model, source, target = load_translation_model(output)
    base, base_source, _ = load_translation_model(toy_translation_dir)
    assert source.model_proto == base_source.model_proto
    assert any(not np.allclose(a, b) for a, b in zip(model.get_weights(), base.get_weights()))
    assert "initialised from" in out
