"""Strict typed configs: unknown keys, bad choices and wrong types name the key."""

import pytest

from seq2seq import config as config_lib
from seq2seq.errors import UserError
from seq2seq.lm.config import LMConfig

VALID = {"data": {"valid": "ptb/ptb.valid.txt"}}


def build(data):
    return config_lib.from_dict(LMConfig, data, source="exp.yaml")


def test_defaults_and_nested_values():
    config = build({**VALID, "model": {"rnn": {"cell": "gru", "num_layers": 2}}})
    assert config.model.rnn.cell == "gru" and config.model.rnn.num_layers == 2
    assert config.training.batch_size == 20


@pytest.mark.parametrize(
    "data, message",
    [
        ({**VALID, "modle": {}}, "unknown key `modle`"),
        (
            {**VALID, "model": {"rnn": {"cell": "lstn"}}},
            "`model.rnn.cell` must be one of ['simple', 'lstm', 'gru']. Received: model.rnn.cell='lstn'",
        ),
        ({**VALID, "training": {"epochs": "3"}}, "`training.epochs` must be an integer"),
        ({**VALID, "training": {"epochs": 0}}, "`training.epochs` must be at least 1"),
        ({**VALID, "training": {"mixed_precision": "yes"}}, "`training.mixed_precision` must be one of"),
        ({**VALID, "model": {"rnn": {"cell": "lstm", "activation": "relu"}}}, "activation"),
        (
            {**VALID, "model": {"rnn": {"bidirectional": True}}},
            "`model.rnn.bidirectional` must be false: a language model",
        ),
        ({"data": {"valid": None}}, "set `data.valid` to a file"),
        ({**VALID, "model": 3}, "`model` must be a mapping"),
    ],
)
def test_bad_values_name_the_key(data, message):
    with pytest.raises(UserError) as error:
        build(data)
    assert message in str(error.value)
    assert str(error.value).startswith("exp.yaml")


def test_overrides_are_parsed_as_yaml_and_checked(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("data:\n  valid: v.txt\n")
    config = config_lib.load(LMConfig, path, ["training.epochs=4", "model.tie_embeddings=true", "data.test=null"])
    assert config.training.epochs == 4 and config.model.tie_embeddings is True
    with pytest.raises(UserError, match="unknown key `training.epoch`"):
        config_lib.load(LMConfig, path, ["training.epoch=4"])
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        config_lib.load(LMConfig, path, ["training.epochs"])


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("run_dir: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(UserError, match="not valid YAML"):
        config_lib.load(LMConfig, path)


def test_round_trip_through_yaml(tmp_path):
    config = build({**VALID, "training": {"epochs": 2}})
    config_lib.save(config, tmp_path / "saved.yaml")
    assert config_lib.load(LMConfig, tmp_path / "saved.yaml") == config
