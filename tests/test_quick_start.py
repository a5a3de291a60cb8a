"""The quick start: short `translate` inputs run on Keras's NumPy backend, with TensorFlow's translations."""

import os
import subprocess
import sys
from types import SimpleNamespace

from helpers import DATA

from seq2seq.cli.running import QUICK_LINES, quick_backend

PROGRAM = """
import sys
from seq2seq.cli import main
status = main(sys.argv[1:])
print("tensorflow imported:", sys.modules.get("tensorflow") is not None, file=sys.stderr)
sys.exit(status)
"""


def translate_in_a_process(argv, backend=None):
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if backend:
        environment["KERAS_BACKEND"] = backend
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, *map(str, argv)], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, done.stderr


def test_a_short_file_is_translated_without_tensorflow_and_as_tensorflow_translates_it(toy_translation_dir):
    argv = ["translate", "--model", toy_translation_dir, DATA / "toy.de", "--beam", "3", "--n-best", "2"]
    quick, quick_log = translate_in_a_process(argv)
    full, full_log = translate_in_a_process(argv, backend="tensorflow")
    assert "tensorflow imported: False" in quick_log and "tensorflow imported: True" in full_log
    assert quick == full and quick.strip()


def arguments(tmp_path, lines=3, **changes):
    path = tmp_path / "in.de"
    path.write_text("ein hund .\n" * lines)
    values = dict(
        handler="seq2seq.cli.translation:translate",
        input=str(path),
        errors="strict",
        temperature=None,
        top_k=None,
        shortlist=False,
        lm=None,
        precision="float32",
    )
    return SimpleNamespace(**{**values, **changes})


def test_only_short_plain_translations_take_the_quick_path(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    assert quick_backend(arguments(tmp_path))
    assert quick_backend(arguments(tmp_path, lines=QUICK_LINES))
    assert not quick_backend(arguments(tmp_path, lines=QUICK_LINES + 1))
    for change in (
        {"temperature": 0.8},  # sampling: NumPy's random numbers are not TensorFlow's
        {"top_k": 5},
        {"shortlist": True},
        {"lm": "lm_dir"},
        {"precision": "bfloat16"},
        {"handler": "seq2seq.cli.translation:evaluate"},
        {"input": str(tmp_path / "missing.de")},  # the command itself reports it
    ):
        assert not quick_backend(arguments(tmp_path, **change)), change
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # the user's choice wins
    assert not quick_backend(arguments(tmp_path))
