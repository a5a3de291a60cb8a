"""Shared test helpers (plain functions and constants; fixtures live in conftest.py).

Test files import from here, never from each other or from conftest.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"

# A small evaluation set: hypotheses, a reference and a second reference (or a baseline system).
HYPOTHESES = ["a dog runs in the park .", "", "two kids play in a garden .", "A woman is reading ."]
REFERENCES = ["a dog runs in the park .", "a cat sleeps .", "two children play in the garden .",
              "a woman reads a book ."]
SECOND = ["the dog is running in a park .", "one cat sleeps .", "two kids play in the garden .",
          "a woman reads ."]


def write(path, lines):
    """Writes `lines` one per line (UTF-8) and returns `path`."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sacrebleu_cli(hypothesis, references, metric):
    """The score the sacrebleu command line gives (the reference implementation)."""
    result = subprocess.run([sys.executable, "-m", "sacrebleu", *map(str, references), "-i", str(hypothesis),
                             "-m", metric, "-b", "-w", "10"], capture_output=True, text=True, check=True)
    return float(result.stdout.strip())


def validated(report_dir):
    """`report.json` of an evaluation report, checked against the report's JSON schema."""
    import jsonschema

    from seq2seq.evaluation.reports import SCHEMA_FILE

    document = json.loads((report_dir / "report.json").read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(document)
    return document


def toy_translation_config(run_dir, **training):
    """A tiny GRU + Bahdanau config over the toy German-English corpus in tests/data."""
    from seq2seq import config as config_lib
    from seq2seq.translation.config import TranslationConfig

    return config_lib.from_dict(TranslationConfig, {
        "data": {"dir": str(DATA), "train": [{"prefix": "toy"}], "valid": [{"prefix": "toy"}], "test": []},
        "vocabulary": {"size": 60},
        "model": {"embedding_dim": 16, "encoder": {"cell": "gru", "units": 16, "bidirectional": True},
                  "decoder": {"cell": "gru", "units": 32}, "attention_units": 16, "dropout": 0.0},
        "training": {"max_tokens": 200, "bucket_boundaries": [12, 24, 41], "epochs": 80,
                     "learning_rate": 0.01, "label_smoothing": 0.0, "mixed_precision": "float32",
                     "early_stopping_patience": 100, "lr_decay_factor": 1.0, **training},
        "run_dir": str(run_dir),
    })


class FixedStepModel:
    """A searchable model (see `seq2seq.core.search`) whose log-probabilities are fixed per step.

    `table[t]` is the `(vocab,)` vector of log-probabilities at output
    position t, for every row and whatever came before; positions past the
    table repeat its last row. The carry counts the steps; there is no context.
    """

    def __init__(self, table, first_token: int = 2):
        self.table = np.asarray(table, "float32")  # (steps, vocab)
        self.first_token = first_token

    def encode(self, inputs):
        from keras import ops

        batch = ops.shape(inputs)[0]
        return (), ops.zeros((batch,), "int32"), ops.full((batch,), self.first_token, "int32")

    def decode_step(self, token_ids, carry, context):
        from keras import ops

        step = ops.minimum(carry, len(self.table) - 1)  # (batch,)
        return ops.take(ops.convert_to_tensor(self.table), step, axis=0), carry + 1
