"""Every Keras class the toolkit registers survives serialization: config, JSON, weights, identical outputs.

As keras-hub's `run_serialization_test`, for each registered class: the
config holds the constructor arguments it was given, `from_config(config)`
gives the same config back, an object rebuilt from its JSON-serialized form
with the original's weights computes the same outputs, and models also
round-trip through a `.keras` file. A class registered without a case here
fails `test_every_registered_class_has_a_case`.
"""

import dataclasses
import json
from collections.abc import Callable

import keras
import numpy as np
import pytest

import seq2seq.core.attention
import seq2seq.core.likelihood
import seq2seq.core.output
import seq2seq.core.recurrent
import seq2seq.models.decoder
import seq2seq.models.encoder_decoder  # noqa: F401  -- imported for their registrations
import seq2seq.models.encoders
import seq2seq.models.ensemble
import seq2seq.models.language_model

RNG = np.random.default_rng(0)
TOKENS = np.array([[4, 5, 6, 7, 0], [8, 9, 0, 0, 0]], "int32")
TARGETS = np.array([[2, 4, 5, 0], [2, 6, 0, 0]], "int32")


@dataclasses.dataclass
class Case:
    arguments: dict  # constructor arguments (nested objects are built by `make`)
    run: Callable  # object -> outputs (builds it on first use)
    make: Callable | None = None  # arguments -> object (default: the class itself)
    saved: bool = False  # a model: also round-trips through a `.keras` file


def translator_arguments(source: dict | None = None) -> dict:
    return {
        "source_vocab_size": 0 if source else 12,
        "target_vocab_size": 11,
        "embedding_dim": 6,
        "encoder": {"cell": "gru", "units": 5, "num_layers": 2},
        "decoder": {"cell": "lstm", "units": 7},
        "attention": "bahdanau",
        "attention_units": 4,
        **({"source": source} if source else {}),
    }


QUERY, MEMORY = RNG.normal(size=(2, 3)).astype("float32"), RNG.normal(size=(2, 5, 4)).astype("float32")


def attend(attention):
    query, memory = QUERY, MEMORY
    if not attention.built:
        attention.build(query.shape, memory.shape)
    mask = TOKENS != 0
    return attention(query, memory, attention.prepare(memory), mask)


def decode(decoder):
    memory = np.random.default_rng(1).normal(size=(2, 5, 6)).astype("float32")
    if not decoder.built:
        decoder.build(TARGETS.shape, memory.shape)
    core = decoder.core
    states = [[np.full((2, core.units), 0.1, "float32")] * core.states_per_layer for _ in range(core.num_layers)]
    return decoder(TARGETS, memory, TOKENS != 0, states)


def two_translators(arguments):
    keras.utils.set_random_seed(3)
    members = [seq2seq.models.encoder_decoder.Seq2SeqModel(**translator_arguments()) for _ in range(2)]
    return seq2seq.models.ensemble.Ensemble(members)


def ensemble_step(ensemble):
    if not ensemble.built:
        for member in ensemble.members:
            member({"source_ids": TOKENS, "target_inputs": TARGETS})
        ensemble.built = True
    context, carry, first = ensemble.encode(TOKENS)
    return ensemble.decode_step(first, carry, context)[0]


LOGITS = RNG.normal(size=(2, 4, 11)).astype("float32")
FRAMES = RNG.normal(size=(2, 9, 8)).astype("float32")
IMAGES = RNG.integers(0, 255, size=(2, 16, 16, 3)).astype("float32")
SEQUENCE = RNG.normal(size=(2, 5, 3)).astype("float32")


def metric_result(metric):
    metric.reset_state()
    metric.update_state(TARGETS, LOGITS)
    return metric.result()


CASES = {
    "RecurrentStack": Case(
        {"cell": "lstm", "units": 4, "num_layers": 2, "bidirectional": True, "residual": True},
        lambda layer: layer(SEQUENCE, mask=TOKENS != 0)[0],
    ),
    "AdditiveAttention": Case({"units": 3}, attend),
    "MultiplicativeAttention": Case({"units": 3}, attend),
    "OutputProjection": Case({"vocab_size": 11, "units": 6}, lambda layer: layer(SEQUENCE @ np.ones((3, 6), "f4"))),
    "TokenLogProbs": Case({}, lambda layer: layer((LOGITS, TARGETS))),
    "MaskedCrossEntropy": Case({"label_smoothing": 0.1}, lambda loss: loss(TARGETS, LOGITS)),
    "Perplexity": Case({"label_smoothing": 0.1}, metric_result),
    "TokenCount": Case({"name": "counted"}, metric_result),
    "RNNEncoder": Case(
        {"vocab_size": 12, "embedding_dim": 6, "rnn": {"cell": "gru", "units": 5}}, lambda layer: layer(TOKENS)[0]
    ),
    "AudioEncoder": Case(
        {"features": 8, "frame_stack": 2, "embedding_dim": 6, "rnn": {"cell": "lstm", "units": 5}},
        lambda layer: layer(FRAMES)[0],
    ),
    "ImageEncoder": Case(
        {"image_size": 16, "conv_filters": [4, 6], "embedding_dim": 6, "rnn": {"cell": "gru", "units": 5}},
        lambda layer: layer(IMAGES)[0],
    ),
    "RNNDecoder": Case(
        {"vocab_size": 11, "embedding_dim": 6, "rnn": {"cell": "gru", "units": 7}, "attention": "luong"},
        lambda layer: decode(layer)[0],
    ),
    "Seq2SeqModel": Case(
        translator_arguments(), lambda model: model({"source_ids": TOKENS, "target_inputs": TARGETS}), saved=True
    ),
    "RNNLanguageModel": Case(
        {"vocab_size": 11, "embedding_dim": 6, "rnn": {"cell": "gru", "units": 5}, "tie_embeddings": True},
        lambda model: model(TOKENS),
        saved=True,
    ),
    "Ensemble": Case({}, ensemble_step, make=two_translators, saved=True),
}


def registered() -> dict[str, type]:
    return {
        name.split(">", 1)[1]: cls
        for name, cls in keras.saving.get_custom_objects().items()
        if name.startswith("seq2seq>")
    }


def test_every_registered_class_has_a_case():
    assert sorted(registered()) == sorted(CASES)


def holds(config, expected) -> bool:
    """Whether `config` holds every given argument (nested dicts: every given key; sequences compare as lists)."""
    if isinstance(expected, dict):
        return isinstance(config, dict) and all(holds(config.get(key), value) for key, value in expected.items())
    if isinstance(expected, (list, tuple)):
        return list(config) == list(expected)
    return config == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_registered_class_round_trips(name, tmp_path):
    cls, case = registered()[name], CASES[name]
    keras.utils.set_random_seed(1)
    original = (case.make or (lambda arguments: cls(**arguments)))(case.arguments)
    expected = keras.tree.map_structure(np.asarray, case.run(original))
    config = original.get_config()
    assert holds(config, case.arguments), f"{name}.get_config() lost a constructor argument: {config}"
    assert cls.from_config(config).get_config() == config

    revived = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(original)))
    )
    assert type(revived) is cls
    case.run(revived)  # build
    if isinstance(revived, keras.layers.Layer):  # (losses and metrics have no weights: their state is reset)
        revived.set_weights(original.get_weights())
    for got, want in zip(keras.tree.flatten(case.run(revived)), keras.tree.flatten(expected)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)

    if case.saved:
        original.save(tmp_path / "model.keras")
        loaded = keras.saving.load_model(tmp_path / "model.keras")
        for got, want in zip(keras.tree.flatten(case.run(loaded)), keras.tree.flatten(expected)):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
