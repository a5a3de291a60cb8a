"""Every model in saved_models/ loads with this code and computes what its card shows.

The shipped models were written in weight layout 1 (before the output layer
moved into `head`); loading upgrades them in memory. The figures pinned here
are the README's: a language-model score of one line and the translation of
the first line of `saved_models/example.de`.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from seq2seq.lm.model import RNNLanguageModel
from seq2seq.lm.scoring import score_lines
from seq2seq.model_dirs import load_language_model, load_translation_model, save_language_model
from seq2seq.translation.model import Seq2SeqModel
from seq2seq.translation.translator import Translator

SAVED = Path(__file__).parents[1] / "saved_models"
DIRECTORIES = sorted(path.parent for path in SAVED.glob("*/manifest.json"))


def test_every_shipped_model_is_found():
    assert {path.name for path in DIRECTORIES} >= {"lm_ptb_lstm", "lm_ptb_rnn", "lm_shakespeare_char",
                                                    "multi30k_de_en"}


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.name)
def test_every_saved_model_loads(directory):
    kind = json.loads((directory / "manifest.json").read_text())["kind"]
    if kind.startswith("seq2seq-language-model"):
        model, vocab = load_language_model(directory)
        assert isinstance(model, RNNLanguageModel) and model.vocab_size == len(vocab)
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
    (hypotheses,) = Translator(model, source, target, beam_size=5).translate([line])
    assert hypotheses[0].text == "A man rides his bike through the city."


def test_an_upgraded_model_saves_in_the_new_layout_with_the_same_outputs(tmp_path):
    model, vocab = load_language_model(SAVED / "lm_shakespeare_char")
    save_language_model(tmp_path / "copy", model, vocab)
    assert json.loads((tmp_path / "copy" / "manifest.json").read_text())["layout"] == 2
    again, _ = load_language_model(tmp_path / "copy")
    ids = np.array([vocab.encode("ROMEO: hello")], "int32")
    np.testing.assert_allclose(np.asarray(again(ids)), np.asarray(model(ids)), rtol=1e-6, atol=1e-6)
