"""Target-side language models for translation: subword LMs, shallow fusion, n-best reranking."""

import keras
import numpy as np
import pytest
from helpers import DATA, validated

from seq2seq import config as config_lib
from seq2seq.cli import main
from seq2seq.core.decoding import DecodingOptions
from seq2seq.core.searcher import Searcher
from seq2seq.lm.config import LMConfig
from seq2seq.lm.scoring import score_lines
from seq2seq.lm.training import train_language_model
from seq2seq.model_dirs import load_language_model, load_translation_model
from seq2seq.translation.fusion import ShallowFusion
from seq2seq.translation.translator import Translator

SOURCES = (DATA / "toy.de").read_text().splitlines()


@pytest.fixture(scope="module")
def subword_lm_dir(toy_translation_dir, tmp_path_factory):
    config = config_lib.from_dict(
        LMConfig,
        {
            "data": {
                "dir": str(DATA),
                "train": "toy.en",
                "valid": "toy.en",
                "level": "subword",
                "subword_model": str(toy_translation_dir / "target.spm"),
            },
            "model": {"embedding_dim": 16, "rnn": {"cell": "gru", "units": 32}},
            "training": {"batch_size": 2, "window_length": 8, "epochs": 5, "learning_rate": 0.01},
            "run_dir": str(tmp_path_factory.mktemp("subword_lm")),
        },
    )
    return train_language_model(config)


def test_subword_lm_scores_and_generates(subword_lm_dir, capsys):
    from seq2seq.lm.generation import generate

    model, vocab = load_language_model(subword_lm_dir)
    assert vocab.level == "subword" and (subword_lm_dir / "vocab.spm").is_file()
    line = "a dog runs in the park ."
    (score,) = score_lines(model, vocab, [line])
    assert score.tokens == len(vocab.encode(line)) + 1 and score.unknown == 0  # subwords + <eos>
    assert -50 < score.log_prob < 0
    assert main(["lm", "generate", "--model", str(subword_lm_dir), "--prompt", "a dog", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed == generate(model, vocab, "a dog", seed=1)[0] + "\n"
    assert len(printed.strip()) > len("a dog")  # something was generated after the prompt


def teacher_forced_log_prob(log_probs, tokens):
    """Sum of log p(tokens[t]) from `(1, time, vocab)` log-probabilities."""
    return float(sum(log_probs[0, t, token] for t, token in enumerate(tokens)))


def test_fusion_adds_weighted_lm_log_probs(toy_translation_dir, subword_lm_dir):
    model, _, target = load_translation_model(toy_translation_dir)
    language_model, _ = load_language_model(subword_lm_dir)
    fused = ShallowFusion(model, language_model, weight=0.5)
    source = np.array([[5, 6, 7, 0]], "int32")
    context, carry, first = fused.encode(source)
    plain_context, plain_carry, plain_first = model.encode(source)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(plain_first))
    tokens = np.array([target.bos_id], "int32")
    fused_log_probs, _ = fused.decode_step(tokens, carry, context)
    plain_log_probs, _ = model.decode_step(tokens, plain_carry, plain_context)
    lm_log_probs, _ = language_model.step(tokens, language_model.core.zero_state(1))
    np.testing.assert_allclose(
        np.asarray(fused_log_probs), np.asarray(plain_log_probs) + 0.5 * np.asarray(lm_log_probs), rtol=1e-5
    )


def test_fused_search_scores_are_translation_plus_weighted_lm_scores(toy_translation_dir, subword_lm_dir):
    """The score of a fused beam-search output is log p_TM(y|x) + 0.5·log p_LM(y), each by teacher forcing.

    A search that ignored the language model would give log p_TM(y|x) alone.
    """
    model, source_vocab, target = load_translation_model(toy_translation_dir)
    language_model, _ = load_language_model(subword_lm_dir)
    source = np.array([source_vocab.encode(SOURCES[0])], "int32")
    output = Searcher(ShallowFusion(model, language_model, 0.5), target.eos_id, beam_size=3, max_length=20).search(
        source
    )
    hypothesis = output["tokens"][0, 0]
    tokens = hypothesis[: list(hypothesis).index(target.eos_id) + 1]  # up to and with <eos>
    inputs = np.array([[target.bos_id, *tokens[:-1]]], "int32")
    translation = teacher_forced_log_prob(
        np.asarray(keras.ops.log_softmax(model({"source_ids": source, "target_inputs": inputs}), -1)), tokens
    )
    lm = teacher_forced_log_prob(np.asarray(keras.ops.log_softmax(language_model(inputs), -1)), tokens)
    assert lm < -0.1  # the language model's term is not negligible
    assert output["scores"][0, 0] == pytest.approx(translation + 0.5 * lm, abs=1e-3)


def test_translator_and_cli_apply_fusion(toy_translation_dir, subword_lm_dir, tmp_path, capsys):
    model, source, target = load_translation_model(toy_translation_dir)
    language_model, _ = load_language_model(subword_lm_dir)
    fused = Translator(
        model, source, target, DecodingOptions(beam_size=2, n_best=2, lm_weight=0.3), language_model=language_model
    ).translate(SOURCES[:3])
    plain = Translator(model, source, target, DecodingOptions(beam_size=2, n_best=2)).translate(SOURCES[:3])
    for fused_hypotheses, plain_hypotheses in zip(fused, plain):
        assert fused_hypotheses[0].score < plain_hypotheses[0].score - 0.05  # the LM's log-probs are added
    nbest = tmp_path / "nbest.txt"
    source_file = tmp_path / "in.de"
    source_file.write_text("\n".join(SOURCES[:3]) + "\n")
    assert (
        main(
            [
                "translate",
                "--model",
                str(toy_translation_dir),
                str(source_file),
                "--beam",
                "2",
                "--n-best",
                "2",
                "--lm",
                str(subword_lm_dir),
                "--lm-weight",
                "0.3",
                "-o",
                str(nbest),
            ]
        )
        == 0
    )
    rows = [line.split(" ||| ") for line in nbest.read_text().splitlines()]
    expected = [(h.text, h.normalized_score) for hypotheses in fused for h in hypotheses]
    assert [row[1] for row in rows] == [text for text, _ in expected]
    np.testing.assert_allclose([float(row[2]) for row in rows], [score for _, score in expected], atol=1e-3)


def test_fusion_with_weight_zero_changes_nothing(toy_translation_dir, subword_lm_dir):
    model, source, target = load_translation_model(toy_translation_dir)
    language_model, _ = load_language_model(subword_lm_dir)
    plain = Translator(model, source, target, DecodingOptions(beam_size=3)).translate(SOURCES[:3])
    zero = Translator(
        model, source, target, DecodingOptions(beam_size=3, lm_weight=0.0), language_model=language_model
    ).translate(SOURCES[:3])
    assert [h[0].text for h in zero] == [h[0].text for h in plain]
    np.testing.assert_allclose([h[0].score for h in zero], [h[0].score for h in plain], rtol=1e-5)


def test_fusion_cli_and_vocabulary_mismatch(toy_translation_dir, subword_lm_dir, trained_lm_dir, capsys):
    code = main(
        [
            "translate",
            "--model",
            str(toy_translation_dir),
            str(DATA / "toy.de"),
            "--lm",
            str(subword_lm_dir),
            "--lm-weight",
            "0.3",
        ]
    )
    assert code == 0 and len(capsys.readouterr().out.splitlines()) == len(SOURCES)
    code = main(["translate", "--model", str(toy_translation_dir), str(DATA / "toy.de"), "--lm", str(trained_lm_dir)])
    assert code == 2 and "not the translation model's target SentencePiece model" in capsys.readouterr().err


def test_rerank_an_nbest_list(toy_translation_dir, subword_lm_dir, tmp_path, capsys):
    nbest = tmp_path / "nbest.txt"
    assert (
        main(
            [
                "translate",
                "--model",
                str(toy_translation_dir),
                str(DATA / "toy.de"),
                "--beam",
                "3",
                "--n-best",
                "3",
                "-o",
                str(nbest),
            ]
        )
        == 0
    )
    capsys.readouterr()
    first = [line.split(" ||| ")[1] for line in nbest.read_text().splitlines()[::3]]  # 3 per sentence
    assert main(["lm", "score", "--model", str(subword_lm_dir), "--rerank", "--lm-weight", "0", str(nbest)]) == 0
    assert capsys.readouterr().out.splitlines() == first
    assert main(["lm", "score", "--model", str(subword_lm_dir), "--rerank", "--lm-weight", "1.0", str(nbest)]) == 0
    model, vocab = load_language_model(subword_lm_dir)
    rows = [line.split(" ||| ") for line in nbest.read_text().splitlines()]
    lm_scores = [score.log_prob for score in score_lines(model, vocab, [row[1] for row in rows])]
    combined = [(float(row[2]) + lm_score, row[1]) for row, lm_score in zip(rows, lm_scores)]
    expected = [max(combined[i : i + 3], key=lambda pair: pair[0])[1] for i in range(0, len(rows), 3)]
    assert capsys.readouterr().out.splitlines() == expected
    assert expected != first  # the language model changed at least one choice
    bad = tmp_path / "bad.txt"
    bad.write_text("0 ||| text without score\n")
    assert main(["lm", "score", "--model", str(subword_lm_dir), "--rerank", str(bad)]) == 2
    assert "line 1: expected 'N ||| text ||| score'" in capsys.readouterr().err


@pytest.mark.slow  # a whole evaluate command with two models
def test_evaluate_with_fusion_records_the_language_model(toy_translation_dir, subword_lm_dir, tmp_path, capsys):
    import json

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
                "--lm",
                str(subword_lm_dir),
                "--lm-weight",
                "0.1",
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    decoding = validated(tmp_path / "r")["decoding"]
    assert decoding["lm"] == str(subword_lm_dir) and decoding["lm_weight"] == 0.1
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
                "--report",
                str(tmp_path / "plain"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "plain" / "report.json").read_text())["decoding"]["lm"] is None
