"""Every shipped experiment config loads, and every key in it is commented."""

from pathlib import Path

import pytest

from seq2seq import config as config_lib
from seq2seq.lm.config import LMConfig
from seq2seq.perception.config import PerceptionConfig
from seq2seq.translation.config import TranslationConfig

CONFIGS = Path(__file__).parent.parent / "configs"


def schema_of(path: Path):
    if path.name.startswith("lm_"):
        return LMConfig
    return PerceptionConfig if path.name.startswith(("speech_", "captions_")) else TranslationConfig


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_config_loads(path):
    schema = schema_of(path)
    config = config_lib.load(schema, path)
    assert config.run_dir.startswith("runs/")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_key_is_present_and_commented(path):
    import yaml

    schema = schema_of(path)

    def keys(data, prefix=""):
        for key, value in data.items():
            yield prefix + key
            if isinstance(value, dict):
                yield from keys(value, f"{prefix}{key}.")

    written = set(keys(yaml.safe_load(path.read_text())))
    assert written == set(keys(config_lib.to_dict(config_lib.load(schema, path))))
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        key, _, value = line.partition(":")
        if key.strip() and not key.lstrip().startswith("#") and value.split("#")[0].strip():  # a key with a value
            assert "#" in value, f"{path.name}:{number} has no comment: {line.strip()}"
