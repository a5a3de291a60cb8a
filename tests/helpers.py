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
REFERENCES = [
    "a dog runs in the park .",
    "a cat sleeps .",
    "two children play in the garden .",
    "a woman reads a book .",
]
SECOND = ["the dog is running in a park .", "one cat sleeps .", "two kids play in the garden .", "a woman reads ."]


def write(path, lines):
    """Writes `lines` one per line (UTF-8) and returns `path`."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sacrebleu_cli(hypothesis, references, metric):
    """The score the sacrebleu command line gives (the reference implementation)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sacrebleu",
            *map(str, references),
            "-i",
            str(hypothesis),
            "-m",
            metric,
            "-b",
            "-w",
            "10",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
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

    return config_lib.from_dict(
        TranslationConfig,
        {
            "data": {"dir": str(DATA), "train": [{"prefix": "toy"}], "valid": [{"prefix": "toy"}], "test": []},
            "vocabulary": {"size": 60},
            "model": {
                "embedding_dim": 16,
                "encoder": {"cell": "gru", "units": 16, "bidirectional": True},
                "decoder": {"cell": "gru", "units": 32},
                "attention_units": 16,
                "dropout": 0.0,
            },
            "training": {
                "max_tokens": 200,
                "bucket_boundaries": [12, 24, 41],
                "epochs": 80,
                "learning_rate": 0.01,
                "label_smoothing": 0.0,
                "mixed_precision": "float32",
                "early_stopping_patience": 100,
                "lr_decay_factor": 1.0,
                **training,
            },
            "run_dir": str(run_dir),
        },
    )


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


# Untrained speech models in model directories (their outputs are arbitrary but deterministic)

SPEECH_WORDS = ["low", "mid", "high"]


def untrained_audio_model(seed: int, vocab_size: int, features: int = 16, frame_stack: int = 2):
    import keras

    from seq2seq.models.encoder_decoder import Seq2SeqModel

    keras.utils.set_random_seed(seed)
    model = Seq2SeqModel(
        0,
        vocab_size,
        embedding_dim=8,
        encoder={"cell": "lstm", "units": 16, "num_layers": 1},
        decoder={"cell": "lstm", "units": 16},
        attention="bahdanau",
        attention_units=8,
        source={"input": "audio", "features": features, "frame_stack": frame_stack},
    )
    model.build()
    return model


def speech_model_dir(
    folder: Path,
    name: str,
    seed: int,
    test_speaker: str = "theo",
    words=SPEECH_WORDS,
    frame_stack: int = 2,
    normalize_level: bool = False,
) -> Path:
    """`folder/name`: a perception-model directory of an untrained 16-bin speech model with its config.yaml."""
    from seq2seq import config as config_lib
    from seq2seq.core.vocabulary import Vocabulary
    from seq2seq.model_dirs import save_perception_model
    from seq2seq.perception.config import PerceptionConfig

    config_file = folder / f"{name}.yaml"
    config_file.write_text(
        f"data: {{task: speech, mel_bins: 16, test_speaker: {test_speaker}, "
        f"normalize_level: {str(normalize_level).lower()}}}\n"
        f"model: {{encoder: {{input: audio, frame_stack: {frame_stack}}}}}\n"
    )
    config = config_lib.load(PerceptionConfig, config_file)
    vocab = Vocabulary(words)
    model = untrained_audio_model(seed, len(vocab), frame_stack=frame_stack)
    return save_perception_model(folder / name, model, vocab, config)


def write_wav_file(path: Path, samples: np.ndarray, rate: int = 8000) -> str:
    """16-bit mono PCM; `samples` in [-1, 1]."""
    import wave

    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return str(path)


def wav_files(folder: Path, count: int = 3) -> list[str]:
    """`count` WAV files of noise, 0.25 s and longer, in `folder`."""
    rng = np.random.default_rng(0)
    return [
        write_wav_file(folder / f"clip{index}.wav", rng.normal(size=2000 + 1000 * index) * 0.1)
        for index in range(count)
    ]


def run(capsys, *argv) -> tuple[int, str, str]:
    """`(exit status, stdout, stderr)` of `seq2seq ARGV` run in this process (argparse's exits included)."""
    from seq2seq.cli import main

    try:
        code = main([str(item) for item in argv])
    except SystemExit as stop:  # argparse
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    """The one `error:` line of `err`, which holds no traceback."""
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]
