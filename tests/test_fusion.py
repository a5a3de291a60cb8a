"""Target-side language models for translation: subword LMs, shallow fusion, n-best reranking."""

import numpy as np
import pytest

from seq2seq import config as config_lib
from seq2seq.cli import main
from seq2seq.model_dirs import load_language_model, load_translation_model
from seq2seq.translation.fusion import ShallowFusion
from seq2seq.lm.config import LMConfig
from seq2seq.lm.training import train_language_model
from seq2seq.translation.translator import Translator

from conftest import DATA

SOURCES = (DATA / "toy.de").read_text().splitlines()


@pytest.fixture(scope="module")
def subword_lm_dir(toy_translation_dir, tmp_path_factory):
    config = config_lib.from_dict(LMConfig, {
        "data": {"dir": str(DATA), "train": "toy.en", "valid": "toy.en", "level": "subword",
                 "subword_model": str(toy_translation_dir / "target.spm")},
        "model": {"embedding_dim": 16, "rnn": {"cell": "gru", "units": 32}},
        "training": {"batch_size": 2, "window_length": 8, "epochs": 5, "learning_rate": 0.01},
        "run_dir": str(tmp_path_factory.mktemp("subword_lm")),
    })
    return train_language_model(config)


def test_subword_lm_scores_and_generates(subword_lm_dir, capsys):
    model, vocab = load_language_model(subword_lm_dir)
    assert vocab.level == "subword" and (subword_lm_dir / "vocab.spm").is_file()
    assert main(["lm", "generate", "--model", str(subword_lm_dir), "--prompt", "a dog", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("a dog")


def test_fusion_adds_weighted_lm_log_probs(toy_translation_dir, subword_lm_dir):
    model, _, target = load_translation_model(toy_translation_dir)
    language_model, _ = load_language_model(subword_lm_dir)
    fused = ShallowFusion(model, language_model, weight=0.5)
    source = np.array([[5, 6, 7, 0]], "int32")
    memory, keys, mask, carry = fused.encode(source)
    _, _, _, plain_carry = model.encode(source)
    tokens = np.array([target.bos_id], "int32")
    fused_log_probs, _, _ = fused.decode_step(tokens, carry, memory, keys, mask)
    plain_log_probs, _, _ = model.decode_step(tokens, plain_carry, memory, keys, mask)
    lm_log_probs, _ = language_model.step(tokens, language_model.core.zero_state(1))
    np.testing.assert_allclose(np.asarray(fused_log_probs),
                               np.asarray(plain_log_probs) + 0.5 * np.asarray(lm_log_probs), rtol=1e-5)


def test_fusion_with_weight_zero_changes_nothing(toy_translation_dir, subword_lm_dir):
    model, source, target = load_translation_model(toy_translation_dir)
    language_model, _ = load_language_model(subword_lm_dir)
    plain = Translator(model, source, target, beam_size=3).translate(SOURCES[:3])
    zero = Translator(model, source, target, beam_size=3, language_model=language_model,
                      lm_weight=0.0).translate(SOURCES[:3])
    assert [h[0].text for h in zero] == [h[0].text for h in plain]
    np.testing.assert_allclose([h[0].score for h in zero], [h[0].score for h in plain], rtol=1e-5)


def test_fusion_cli_and_vocabulary_mismatch(toy_translation_dir, subword_lm_dir, trained_lm_dir, capsys):
    code = main(["translate", "--model", str(toy_translation_dir), str(DATA / "toy.de"), "--lm",
                 str(subword_lm_dir), "--lm-weight", "0.3"])
    assert code == 0 and len(capsys.readouterr().out.splitlines()) == len(SOURCES)
    code = main(["translate", "--model", str(toy_translation_dir), str(DATA / "toy.de"), "--lm",
                 str(trained_lm_dir)])
    assert code == 2 and "not the translation model's target SentencePiece model" in capsys.readouterr().err


def test_rerank_an_nbest_list(toy_translation_dir, subword_lm_dir, tmp_path, capsys):
    nbest = tmp_path / "nbest.txt"
    assert main(["translate", "--model", str(toy_translation_dir), str(DATA / "toy.de"), "--beam", "3",
                 "--n-best", "3", "-o", str(nbest)]) == 0
    capsys.readouterr()
    first = [line.split(" ||| ")[1] for line in nbest.read_text().splitlines()[::3]]  # 3 per sentence
    assert main(["lm", "score", "--model", str(subword_lm_dir), "--rerank", "--lm-weight", "0",
                 str(nbest)]) == 0
    assert capsys.readouterr().out.splitlines() == first
    assert main(["lm", "score", "--model", str(subword_lm_dir), "--rerank", "--lm-weight", "1.0",
                 str(nbest)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(SOURCES)
    bad = tmp_path / "bad.txt"
    bad.write_text("0 ||| text without score\n")
    assert main(["lm", "score", "--model", str(subword_lm_dir), "--rerank", str(bad)]) == 2
    assert "line 1: expected 'N ||| text ||| score'" in capsys.readouterr().err


def test_evaluate_with_fusion_records_the_language_model(toy_translation_dir, subword_lm_dir, tmp_path, capsys):
    import json

    from test_reports import validated

    assert main(["evaluate", "--model", str(toy_translation_dir), "--source", str(DATA / "toy.de"),
                 "--reference", str(DATA / "toy.en"), "--beam", "2", "--lm", str(subword_lm_dir),
                 "--lm-weight", "0.1", "--report", str(tmp_path / "r")]) == 0
    decoding = validated(tmp_path / "r")["decoding"]
    assert decoding["lm"] == str(subword_lm_dir) and decoding["lm_weight"] == 0.1
    assert main(["evaluate", "--model", str(toy_translation_dir), "--source", str(DATA / "toy.de"),
                 "--reference", str(DATA / "toy.en"), "--report", str(tmp_path / "plain")]) == 0
    assert json.loads((tmp_path / "plain" / "report.json").read_text())["decoding"]["lm"] is None
