"""Every shipped experiment config loads, and every key in it is commented."""

from pathlib import Path

import pytest

from seq2seq import config as config_lib
from seq2seq.lm_config import LMConfig
from seq2seq.translation_config import TranslationConfig

CONFIGS = Path(__file__).parent.parent / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_config_loads(path):
    schema = LMConfig if path.name.startswith("lm_") else TranslationConfig
    config = config_lib.load(schema, path)
    assert config.run_dir.startswith("runs/")
