"""The encoder-decoder: shapes, the shared core, teacher forcing vs stepping, save/load, overfitting."""

import keras
import numpy as np
import pytest

from seq2seq.core.choices import CELLS
from seq2seq.core.recurrent import RecurrentStack, core_arguments
from seq2seq.core.specials import BOS_ID
from seq2seq.models.encoder_decoder import Seq2SeqModel

ATTENTIONS = ["none", "bahdanau", "luong"]


def small_model(
    attention="bahdanau",
    encoder_cell="gru",
    decoder_cell="gru",
    encoder_layers=2,
    decoder_layers=2,
    decoder_units=7,
    **kwargs,
):
    return Seq2SeqModel(
        source_vocab_size=13,
        target_vocab_size=11,
        embedding_dim=6,
        encoder={"cell": encoder_cell, "units": 5, "num_layers": encoder_layers, "bidirectional": True},
        decoder={"cell": decoder_cell, "units": decoder_units, "num_layers": decoder_layers},
        attention=attention,
        attention_units=4,
        **kwargs,
    )


def batch():
    source = np.array([[4, 5, 6, 7, 0, 0], [8, 9, 0, 0, 0, 0]], "int32")
    target = np.array([[2, 4, 5, 6, 0], [2, 7, 0, 0, 0]], "int32")
    return {"source_ids": source, "target_inputs": target}


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("cells", [("gru", "gru"), ("lstm", "lstm"), ("gru", "lstm"), ("simple", "lstm")])
def test_shapes_for_every_attention_and_cell_mix(attention, cells):
    model = small_model(attention, *cells)
    logits, weights = model(batch(), return_attention=True)
    assert tuple(logits.shape) == (2, 5, 11)
    assert tuple(weights.shape) == (2, 5, 6)
    if attention != "none":
        weights = np.asarray(weights)
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        assert np.all(weights[1, :, 2:] < 1e-6)  # padding gets no attention


def test_encoder_and_decoder_are_the_language_model_core():
    from seq2seq.models.language_model import RNNLanguageModel

    model = small_model()
    assert type(model.encoder.core) is RecurrentStack
    assert type(model.decoder.core) is RecurrentStack
    assert type(RNNLanguageModel(vocab_size=5).core) is RecurrentStack


def test_source_padding_does_not_change_the_output():
    model = small_model("luong", "lstm", "lstm")
    inputs = batch()
    padded = {**inputs, "source_ids": np.pad(inputs["source_ids"], ((0, 0), (0, 3)))}
    np.testing.assert_allclose(np.asarray(model(padded)), np.asarray(model(inputs)), atol=1e-5)


@pytest.mark.parametrize("decoder_cell", CELLS)
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_stepwise_decoding_matches_teacher_forcing(attention, decoder_cell):
    """Teacher forcing computes the embeddings' input product and the output layer outside its loop; search does not."""
    model = small_model(attention, "lstm", decoder_cell)
    inputs = batch()
    log_probs = np.asarray(keras.ops.log_softmax(model(inputs), axis=-1))
    context, carry, first = model.encode(inputs["source_ids"])
    np.testing.assert_array_equal(np.asarray(first), [BOS_ID, BOS_ID])
    for t in range(inputs["target_inputs"].shape[1]):
        step_log_probs, carry = model.decode_step(inputs["target_inputs"][:, t], carry, context)
        np.testing.assert_allclose(np.asarray(step_log_probs), log_probs[:, t], atol=1e-4)


def test_get_config_keeps_every_constructor_argument():
    """Compared with the arguments given (none at its default), not with a clone's config."""
    encoder = {
        "cell": "simple",
        "units": 5,
        "num_layers": 2,
        "bidirectional": False,
        "dropout": 0.2,
        "activation": "relu",
        "residual": True,
    }
    decoder = {
        "cell": "lstm",
        "units": 6,
        "num_layers": 3,
        "bidirectional": False,
        "dropout": 0.3,
        "activation": "tanh",
        "residual": True,
    }
    arguments = dict(
        source_vocab_size=13,
        target_vocab_size=11,
        embedding_dim=6,
        encoder=encoder,
        decoder=decoder,
        attention="luong",
        attention_units=9,
        dropout=0.25,
        tie_embeddings=True,
    )
    config = Seq2SeqModel(**arguments).get_config()
    assert {key: config[key] for key in arguments} == arguments
    clone = Seq2SeqModel.from_config(config)
    assert core_arguments(clone.encoder.core) == encoder and core_arguments(clone.decoder.core) == decoder
    assert clone.decoder.attention_kind == "luong" and clone.decoder.attention_units == 9
    assert clone.encoder.dropout == clone.decoder.dropout == 0.25 and clone.tie_embeddings


def test_encoder_is_bidirectional_unless_told_otherwise():
    assert Seq2SeqModel(source_vocab_size=5, target_vocab_size=5, encoder={"units": 3}).encoder.core.bidirectional
    model = Seq2SeqModel(source_vocab_size=5, target_vocab_size=5, encoder={"units": 3, "bidirectional": False})
    assert not model.encoder.core.bidirectional
    with pytest.raises(ValueError, match="unidirectional"):
        Seq2SeqModel(source_vocab_size=5, target_vocab_size=5, decoder={"bidirectional": True})


def test_save_and_load_give_identical_outputs(tmp_path):
    model = small_model("bahdanau", tie_embeddings=True)
    expected = np.asarray(model(batch()))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(batch())), expected, rtol=1e-6)


@pytest.mark.parametrize("attention", ["none", "luong"])
def test_overfits_one_batch(attention):
    model = small_model(attention, dropout=0.0, encoder_layers=1, decoder_layers=1, decoder_units=16)
    inputs = batch()
    targets = np.array([[4, 5, 6, 3, 0], [7, 3, 0, 0, 0]], "int32")
    model.compile(
        keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
    )
    history = model.fit(inputs, targets, epochs=60, verbose=0)
    assert history.history["loss"][-1] < 0.05
    predicted = np.asarray(model(inputs)).argmax(-1)
    assert predicted[0, :4].tolist() == [4, 5, 6, 3] and predicted[1, :2].tolist() == [7, 3]


def test_word_dropout_hides_the_written_words_in_training_only():
    model = small_model(word_dropout=1.0)
    inputs = batch()
    other = {**inputs, "target_inputs": np.where(inputs["target_inputs"] > 3, 10, inputs["target_inputs"])}
    # Every input word after <bos> becomes <unk> in training, so what the words were cannot matter there...
    np.testing.assert_allclose(model(inputs, training=True), model(other, training=True), atol=1e-6)
    # ...nor at inference, at rate 1.0: that decoder never reads its words, in training or search...
    np.testing.assert_allclose(model(inputs, training=False), model(other, training=False), atol=1e-6)
    # ...while below 1.0 they matter at inference (and in training for the words not dropped).
    half = small_model(word_dropout=0.5)
    assert not np.allclose(half(inputs, training=False), half(other, training=False), atol=1e-4)
    assert not np.allclose(half(inputs, training=True), half(other, training=True), atol=1e-4)
    context, carry, _ = model.encode(inputs["source_ids"])
    step = [np.asarray(model.decode_step(np.array([token, token], "int32"), carry, context)[0]) for token in (5, 9)]
    np.testing.assert_allclose(step[0], step[1], atol=1e-6)
    again = Seq2SeqModel.from_config(model.get_config())
    assert again.word_dropout == 1.0 and small_model().get_config().get("word_dropout") is None
