"""Search with bfloat16 copies of the weights (`--precision bfloat16`): used where asked, close to float32."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from seq2seq.core import precision
from seq2seq.core.choices import SEARCH_PRECISIONS
from seq2seq.core.decoding import DecodingOptions
from seq2seq.core.searcher import Searcher
from seq2seq.model_dirs import load_translation_model
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.translation.translator import Translator


def small_model(tie_embeddings=False):
    keras.utils.set_random_seed(3)
    model = Seq2SeqModel(
        source_vocab_size=12,
        target_vocab_size=12,
        embedding_dim=8,
        encoder={"units": 8},
        decoder={"units": 16},
        attention="bahdanau",
        attention_units=8,
        tie_embeddings=tie_embeddings,
    )
    model({"source_ids": np.ones((1, 3), "int32"), "target_inputs": np.ones((1, 2), "int32")})
    return model


def test_matmul_uses_the_copy_only_while_it_is_active():
    variable = keras.Variable(np.random.default_rng(0).normal(size=(4, 6)).astype("float32"))
    x = ops.convert_to_tensor(np.random.default_rng(1).normal(size=(3, 4)).astype("float32"))
    exact = np.asarray(x) @ np.asarray(variable)
    copies = {id(variable): ops.cast(variable, "bfloat16")}
    np.testing.assert_allclose(np.asarray(precision.matmul(x, variable)), exact, rtol=1e-5)
    with precision.using(copies):
        assert precision.reduced(variable)
        low = precision.matmul(x, variable)
    assert not precision.reduced(variable)
    assert keras.backend.standardize_dtype(low.dtype) == "float32"
    by_hand = np.asarray(ops.cast(ops.cast(x, "bfloat16"), "float32")) @ np.asarray(
        ops.cast(copies[id(variable)], "float32")
    )
    np.testing.assert_allclose(np.asarray(low), by_hand, rtol=1e-2, atol=1e-2)
    assert not np.allclose(np.asarray(low), exact, rtol=1e-6, atol=0)  # the copy really was used


def test_transposed_product_with_a_copy():
    matrix = keras.Variable(np.random.default_rng(2).normal(size=(6, 4)).astype("float32"))  # (vocab, dim)
    x = ops.convert_to_tensor(np.random.default_rng(3).normal(size=(2, 5, 4)).astype("float32"))
    exact = np.asarray(x) @ np.asarray(matrix).T
    with precision.using(precision.snapshot(type("M", (), {"weights": [matrix]})(), "bfloat16")):
        low = np.asarray(precision.matmul(x, matrix, transpose=True))
    assert low.shape == (2, 5, 6)
    np.testing.assert_allclose(low, exact, atol=0.1)


def test_snapshot_copies_the_matrices_once_and_refuses_unknown_precisions():
    model = small_model()
    assert precision.snapshot(model, "float32") == {}
    copies = precision.snapshot(model, "bfloat16")
    matrices = [w for w in model.weights if len(w.shape) == 2]
    assert set(copies) == {id(w) for w in matrices}
    assert all(keras.backend.standardize_dtype(copy.dtype) == "bfloat16" for copy in copies.values())
    with pytest.raises(ValueError, match="float16"):
        precision.snapshot(model, "float16")
    assert set(SEARCH_PRECISIONS) == {"float32", "bfloat16"}


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple"])
def test_our_cell_step_matches_the_keras_cell_in_float32(kind):
    """The equations reduced-precision search (LSTM) and projected teacher forcing (every cell) use."""
    from seq2seq.core.recurrent import RecurrentStack, _cell_step

    core = RecurrentStack(cell=kind, units=16)
    core(np.zeros((3, 1, 8), "float32"))
    cell = core.recurrent_layers[0].cell
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 8)).astype("float32")
    states = [rng.normal(size=(3, 16)).astype("float32") for _ in range(2 if kind == "lstm" else 1)]
    ours, our_states = _cell_step(kind, cell, x @ np.asarray(cell.kernel), states)  # no copies active
    theirs, their_states = cell(x, states, training=False)
    for a, b in zip([ours, *our_states], [theirs, *their_states]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tie_embeddings", [False, True])
def test_decoding_steps_in_bfloat16_stay_close_to_float32(tie_embeddings):
    model = small_model(tie_embeddings)
    source = np.array([[4, 5, 6, 7], [8, 9, 0, 0]], "int32")
    context, carry, first = model.encode(source)
    exact, _ = model.decode_step(first, carry, context)
    with precision.using(precision.snapshot(model, "bfloat16")):
        low, _ = model.decode_step(first, carry, context)
    exact, low = np.asarray(exact), np.asarray(low)
    assert low.dtype == np.float32
    assert np.abs(low - exact).max() < 0.05
    assert not np.array_equal(low, exact)  # the copies were used


def test_searcher_in_bfloat16_keeps_its_copies_and_the_model_untouched():
    model = small_model()
    before = [np.array(w) for w in model.weights]
    searcher = Searcher(model, eos_id=3, beam_size=2, max_length=6, precision="bfloat16")
    output = searcher.search(np.array([[4, 5, 6], [7, 8, 0]], "int32"))
    assert output["tokens"].shape == (2, 2, 6)
    assert all(np.array_equal(a, np.array(w)) for a, w in zip(before, model.weights))
    assert not precision.reduced(model.head.kernel)  # only inside the search
    with pytest.raises(ValueError, match="float16"):
        Searcher(model, eos_id=3, precision="float16")


def test_translator_in_bfloat16_translates_the_toy_sentences(toy_translation_dir):
    from helpers import DATA

    model, source, target = load_translation_model(toy_translation_dir)
    lines = (DATA / "toy.de").read_text(encoding="utf-8").splitlines()
    exact = [h[0].text for h in Translator(model, source, target, DecodingOptions(beam_size=3)).translate(lines)]
    low = [
        h[0].text
        for h in Translator(model, source, target, DecodingOptions(beam_size=3, precision="bfloat16")).translate(lines)
    ]
    assert low == exact  # a memorised model's margins are far above bfloat16's rounding


def test_cli_precision_option_and_report(toy_translation_dir, tmp_path, capsys):
    from helpers import DATA

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
                "--precision",
                "bfloat16",
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("BLEU\t100.00")
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["decoding"]["precision"] == "bfloat16"
    assert "bfloat16" in (tmp_path / "r" / "report.md").read_text()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "seq2seq",
            "translate",
            "--model",
            str(toy_translation_dir),
            "--precision",
            "float16",
            str(DATA / "toy.de"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--precision" in bad.stderr and "Traceback" not in bad.stderr
