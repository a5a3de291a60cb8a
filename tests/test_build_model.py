"""Config meets code in one place: every `model.*` key of a config reaches the built layers.

Each key of the model sections is mapped to where it must show up in the
built model's layers (their `get_config()` or their class). A key without an
entry here fails the test, and so does a key that `build_model` drops (the
layer then keeps its default, which every config below differs from).
"""

import dataclasses
from pathlib import Path

import pytest

from seq2seq import config as config_lib
from seq2seq.core.attention import AdditiveAttention, MultiplicativeAttention
from seq2seq.core.recurrent import RNN_ARGUMENTS
from seq2seq.lm.config import LMConfig, LMModelConfig
from seq2seq.models import encoder_decoder as translation_model
from seq2seq.models import language_model as lm_model
from seq2seq.perception.config import PerceptionConfig
from seq2seq.perception.data import source_spec
from seq2seq.translation.config import TranslationConfig, TranslationModelConfig

CONFIGS = Path(__file__).parents[1] / "configs"
ATTENTION_CLASSES = {"none": type(None), "bahdanau": AdditiveAttention, "luong": MultiplicativeAttention}


def lm_reached(model) -> dict[str, list]:
    """Config key -> the values the built language model holds for it."""
    core = model.core.get_config()
    reached = {f"rnn.{name}": [core[name]] for name in RNN_ARGUMENTS}
    reached["rnn.dropout"] += [model.embedding_dropout.get_config()["rate"], model.output_dropout.get_config()["rate"]]
    reached["embedding_dim"] = [model.embedding.get_config()["output_dim"]]
    reached["tie_embeddings"] = [model.head.get_config()["tie_embeddings"]]
    return reached


def translation_reached(model) -> dict[str, list]:
    """Config key -> the values the built translation model holds for it."""
    reached = {}
    for side in ("encoder", "decoder"):
        core = getattr(model, side).core.get_config()
        reached.update({f"{side}.{name}": [core[name]] for name in RNN_ARGUMENTS})
    decoder, encoder = model.decoder, model.encoder
    kind = model.source["input"]
    reached["encoder.input"] = [kind]
    reached["encoder.frame_stack"] = [encoder.frame_stack] if kind == "audio" else [None]
    reached["encoder.conv_filters"] = (
        [tuple(layer.filters for layer in encoder.convolutions)] if kind == "image" else [None]
    )
    if kind == "tokens":
        source_embedding, source_dropout = encoder.embedding.get_config()["output_dim"], encoder.embedding_dropout
    else:  # feature encoders project their frames or grid cells to embedding_dim
        source_embedding, source_dropout = encoder.projection.get_config()["units"], encoder.projection_dropout
    reached["embedding_dim"] = [source_embedding, decoder.embedding.get_config()["output_dim"]]
    reached["dropout"] = [
        layer.get_config()["rate"] for layer in (source_dropout, decoder.embedding_dropout, decoder.output_dropout)
    ]
    attention_class = type(decoder.attention)
    reached["attention"] = [next(kind for kind, cls in ATTENTION_CLASSES.items() if cls is attention_class)]
    if isinstance(decoder.attention, AdditiveAttention):  # the score size of additive attention only
        reached["attention_units"] = [decoder.attention.get_config()["units"]]
    else:
        reached["attention_units"] = [None]
    reached["tie_embeddings"] = [model.head.get_config()["tie_embeddings"]]
    reached["word_dropout"] = [model.word_dropout]
    return reached


def flat_fields(config, prefix: str = "") -> dict:
    """`{"encoder.units": 256, ...}` for a (nested) config dataclass."""
    values = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            values.update(flat_fields(value, f"{prefix}{field.name}."))
        else:
            values[prefix + field.name] = value
    return values


def check_every_key_arrives(model_config, reached: dict[str, list]) -> None:
    expected = flat_fields(model_config)
    assert sorted(reached) == sorted(expected), "every model key needs an entry in the test's map"
    for key, value in expected.items():
        if reached[key] == [None]:
            continue  # a key of another encoder input, or the score size of non-additive attention
        if key == "encoder.conv_filters":
            value = tuple(value)
        assert reached[key] == [value] * len(reached[key]), f"model.{key}={value!r} did not reach the layers"


def build_lm(model_config):
    model = lm_model.build_model(model_config, vocab_size=30)
    model.build((None, None))
    return model


def build_translator(model_config, source=None):
    model = translation_model.build_model(model_config, source_vocab_size=30, target_vocab_size=40, source=source)
    model.build()
    return model


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("lm_*.yaml")), ids=lambda path: path.name)
def test_every_lm_config_key_reaches_the_model(path):
    model_config = config_lib.load(LMConfig, path).model
    check_every_key_arrives(model_config, lm_reached(build_lm(model_config)))


@pytest.mark.parametrize(
    "path", sorted(set(CONFIGS.glob("*.yaml")) - set(CONFIGS.glob("lm_*.yaml"))), ids=lambda path: path.name
)
def test_every_translation_config_key_reaches_the_model(path):
    if path.name.startswith(("speech_", "captions_")):  # the perception configs: the same model section
        config = config_lib.load(PerceptionConfig, path)
        model = build_translator(config.model, source_spec(config))
    else:
        config = config_lib.load(TranslationConfig, path)
        model = build_translator(config.model)
    check_every_key_arrives(config.model, translation_reached(model))


@pytest.mark.parametrize("encoder", [{"input": "audio", "frame_stack": 4}, {"input": "image", "conv_filters": [4, 8]}])
def test_feature_encoder_options_changed_from_their_defaults_reach_the_model(encoder):
    config = config_lib.from_dict(
        TranslationModelConfig,
        {"embedding_dim": 6, "dropout": 0.35, "encoder": {**encoder, "cell": "gru", "units": 5, "num_layers": 2}},
    )
    source = {"features": 12} if encoder["input"] == "audio" else {"image_size": 16, "channels": 3}
    check_every_key_arrives(config, translation_reached(build_translator(config, source)))


def changed(cls, data: dict):
    """A model config from `data`, checked to differ from the defaults in every key it sets."""
    config = config_lib.from_dict(cls, data)
    defaults = flat_fields(cls())
    for key, value in flat_fields(config).items():
        if key not in ("rnn.bidirectional", "decoder.bidirectional"):  # these must stay false
            assert value != defaults[key], f"{key} is still its default"
    return config


def test_every_lm_option_changed_from_its_default_reaches_the_model():
    config = changed(
        LMModelConfig,
        {
            "embedding_dim": 6,
            "tie_embeddings": True,
            "rnn": {
                "cell": "simple",
                "units": 10,
                "num_layers": 3,
                "dropout": 0.25,
                "activation": "relu",
                "residual": True,
            },
        },
    )
    check_every_key_arrives(config, lm_reached(build_lm(config)))


@pytest.mark.parametrize("encoder_cell,decoder_cell,attention", [("simple", "gru", "luong"), ("gru", "simple", "none")])
def test_every_translation_option_changed_from_its_default_reaches_the_model(encoder_cell, decoder_cell, attention):
    def side(cell, units):
        return {
            "cell": cell,
            "units": units,
            "num_layers": 2,
            "dropout": 0.15,
            "residual": True,
            **({"activation": "relu"} if cell == "simple" else {}),
        }

    config = config_lib.from_dict(
        TranslationModelConfig,
        {
            "embedding_dim": 6,
            "encoder": {**side(encoder_cell, 5), "bidirectional": True},
            "decoder": side(decoder_cell, 7),
            "attention": attention,
            "attention_units": 9,
            "dropout": 0.35,
            "tie_embeddings": True,
            "word_dropout": 0.25,
        },
    )
    defaults = flat_fields(TranslationModelConfig())
    same = {key for key, value in flat_fields(config).items() if value == defaults[key]}
    gated_side = "decoder" if encoder_cell == "simple" else "encoder"  # activation needs cell: simple
    # the other case changes the latter; the encoder reads tokens (feature encoders: the test above)
    assert same == {
        "decoder.bidirectional",
        f"{gated_side}.activation",
        "encoder.input",
        "encoder.frame_stack",
        "encoder.conv_filters",
    }
    check_every_key_arrives(config, translation_reached(build_translator(config)))
