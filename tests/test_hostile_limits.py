"""Bounded work: signals during long compiled searches, hard caps and ranges, memory estimates, strict JSON.

The README promises that Ctrl-C and SIGTERM end any command with one line
and status 130, that every number has a range checked before the work, and
that what the toolkit writes is valid. These are the cases where a few
bytes of options used to cost minutes or gigabytes.
"""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA, one_error, run, speech_model_dir, write_wav_file

from seq2seq import config as config_lib
from seq2seq.core.choices import MAX_OUTPUT_TOKENS
from seq2seq.documents import json_text
from seq2seq.lm.config import LMConfig

INTERRUPT_RUN = Path(__file__).parent / "interrupt_run.py"


# --- signals during long compiled searches ------------------------------------------------------------------


@pytest.fixture(scope="module")
def char_lm_dir(tmp_path_factory) -> Path:
    """A toy character-level language model: its samples never end early, so a generation runs its full length."""
    from seq2seq.lm.training import train_language_model

    config = config_lib.from_dict(
        LMConfig,
        {
            "data": {"dir": str(DATA), "train": "toy_lm.train.txt", "valid": "toy_lm.valid.txt", "level": "char"},
            "model": {"embedding_dim": 16, "rnn": {"cell": "gru", "units": 32}},
            "training": {"batch_size": 2, "window_length": 8, "epochs": 1},
            "run_dir": str(tmp_path_factory.mktemp("char_lm")),
        },
    )
    return train_language_model(config)


def interrupted_generation(
    model_dir: Path, signal_name: str, tmp_path: Path
) -> tuple[subprocess.CompletedProcess, float]:
    """Runs a generation of 100 x 100,000 characters (minutes of compiled steps) that signals itself 3 s into its
    search; returns the process and the seconds from the signal to the command's end."""
    stamp = tmp_path / "signalled"
    argv = ["lm", "generate", "--model", str(model_dir), "--max-tokens", "100000", "--num-samples", "100"]
    process = subprocess.run(
        [sys.executable, str(INTERRUPT_RUN), signal_name, "3", str(stamp), *argv],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert stamp.exists(), f"the signal was never sent: {process.stderr[-2000:]}"
    ended = Path(f"{stamp}.ended")
    assert ended.exists(), process.stderr[-2000:]
    return process, float(ended.read_text()) - float(stamp.read_text())


@pytest.mark.parametrize("signal_name", ["TERM", pytest.param("INT", marks=pytest.mark.slow)])
def test_a_signal_ends_a_long_generation_within_seconds_with_one_line(signal_name, char_lm_dir, tmp_path):
    process, seconds = interrupted_generation(char_lm_dir, signal_name, tmp_path)
    assert process.returncode == 130, process.stderr[-2000:]
    assert process.stderr.splitlines()[-1] == "interrupted" and "Traceback" not in process.stderr
    assert process.stdout == ""
    assert seconds < 5, f"{seconds:.1f} s from the signal to the end (the whole generation takes minutes)"


class Stop(Exception):
    pass


def test_a_beam_search_returns_to_python_at_least_every_second():
    """A pending signal's handler runs between bursts: here it raises within about a burst of the signal."""
    from seq2seq.core.searcher import Searcher
    from seq2seq.models.encoder_decoder import Seq2SeqModel

    model = Seq2SeqModel(
        source_vocab_size=12, target_vocab_size=12, embedding_dim=8, encoder={"units": 8}, decoder={"units": 16}
    )
    sources = np.random.default_rng(0).integers(4, 12, size=(4, 6)).astype("int32")
    model({"source_ids": sources, "target_inputs": sources})
    # nothing ends a hypothesis (eos -1): 100,000 steps of beam search, far more than the 2 s before the signal
    searcher = Searcher(model, eos_id=-1, beam_size=3, max_length=MAX_OUTPUT_TOKENS)

    def stop(signum, frame):
        raise Stop

    previous = signal.signal(signal.SIGUSR1, stop)
    timer = threading.Timer(
        2.0, lambda: (setattr(timer, "sent", time.monotonic()), os.kill(os.getpid(), signal.SIGUSR1))
    )
    try:
        timer.start()
        with pytest.raises(Stop):
            searcher.search(sources)
        assert time.monotonic() - timer.sent < 2.0
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.slow  # a subprocess that loads a model and serves it
def test_serve_ends_on_sigterm_with_the_promised_line_and_status(toy_translation_dir, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "seq2seq", "serve", "--model", str(toy_translation_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("serving ")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130 and err.splitlines()[-1] == "interrupted", err[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# --- hard caps and ranges of the decoding and generation options ---------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["lm", "generate", "--max-tokens", "100001"], "--max-tokens must be at most 100,000"),
        (["lm", "generate", "--num-samples", "10001"], "--num-samples must be at most 10,000"),
        (["lm", "generate", "--seed", "-1"], "--seed must be at least 0"),
        (["lm", "generate", "--seed", str(2**32)], "--seed must be at most 4,294,967,295"),
        (["translate", "--beam", "101"], "--beam must be at most 100"),
        (["translate", "--max-length-offset", "1000000"], "--max-length-offset must be at most 1,000"),
        (["translate", "--max-length-ratio", "11"], "--max-length-ratio must be at most 10"),
        (["translate", "--max-source-tokens", "2049"], "--max-source-tokens must be at most 2,048"),
        (["translate", "--batch-size", "4097"], "--batch-size must be at most 4,096"),
        (["translate", "--seed", "-5"], "--seed must be at least 0"),
        (
            ["evaluate", "--max-length-offset", "1001", "--model", "m", "--source", "s"],
            "--max-length-offset must be at",
        ),
    ],
)
def test_decoding_and_generation_options_have_ranges_checked_before_any_work(argv, message, tmp_path, capsys):
    argv = [*argv[:2], "--model", str(tmp_path / "none"), *argv[2:]] if argv[0] == "lm" else argv
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and out == ""


def test_generation_memory_is_bounded_by_samples_times_tokens(tmp_path, capsys):
    started = time.monotonic()
    code, _, err = run(
        capsys, "lm", "generate", "--model", tmp_path / "none", "--num-samples", "1000", "--max-tokens", "100000"
    )
    line = one_error(err)
    assert code == 2 and "--num-samples 1,000 x --max-tokens 100,000" in line and "MiB" in line
    assert time.monotonic() - started < 5  # refused before the model is looked for


def test_every_search_length_is_capped_whatever_the_options():
    from seq2seq.core.search import length_limit, max_target_length
    from seq2seq.core.searcher import Searcher

    assert max_target_length(10**6, 10.0, 10**6) == MAX_OUTPUT_TOKENS
    assert max_target_length(4, 1.5, 10) == 16  # below the cap nothing changes
    assert np.asarray(length_limit(np.array([4, 10**7]), 1e6, 10**6)).tolist() == [MAX_OUTPUT_TOKENS] * 2
    assert np.asarray(length_limit(np.array([4]), 1.5, 10)).tolist() == [16]
    with pytest.raises(ValueError, match="max_length"):
        Searcher(object(), eos_id=3, max_length=MAX_OUTPUT_TOKENS + 1)


# --- sizes that cannot fit are refused with an estimate, before anything is built -----------------------------


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.rnn.units=100000000", "this machine has"),  # 4 x 10^16 weights
        ("model.rnn.units=200000", "this machine has"),  # 1.6 x 10^11 weights: just too many for any test machine
        ("model.rnn.num_layers=100000", "at most 100"),
    ],
)
def test_a_model_too_large_for_the_machine_is_refused_before_anything_is_built(
    override, message, toy_config_file, capsys
):
    started = time.monotonic()
    code, _, err = run(capsys, "lm", "train", toy_config_file, "--set", override)
    line = one_error(err)
    assert code == 2 and override.split("=")[0] in line and message in line
    assert "GiB" in line or "num_layers" in override
    assert time.monotonic() - started < 10
    assert not (toy_config_file.parent / "run").exists()  # nothing written


# --- numbers in configs: YAML 1.2 floats; what the toolkit writes is strict JSON -------------------------------


def test_exponent_floats_without_a_dot_are_numbers_in_configs_and_overrides(toy_config_file):
    config = config_lib.load(LMConfig, toy_config_file, ["training.learning_rate=1e-4"])
    assert config.training.learning_rate == pytest.approx(1e-4)
    assert config_lib.parse_yaml("a: 1e9\nb: -2E-4\nc: 1e\nd: 12") == {"a": 1e9, "b": -2e-4, "c": "1e", "d": 12}


def strict(text: str):
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_numbers_that_are_not_finite_are_written_as_null():
    document = {"loss": float("nan"), "best": [float("inf"), -math.inf, 1.5], "epoch": np.float32(2.0)}
    assert strict(json_text(document)) == {"loss": None, "best": [None, None, 1.5], "epoch": 2.0}


@pytest.mark.slow  # trains
def test_a_diverged_run_writes_metrics_a_strict_json_reader_accepts(toy_config_file, capsys):
    """The model's metrics.json (and the other documents for users; the resume backup is Keras's own, read back by
    Python only) after a learning rate of 1e9 drove the perplexity to infinity."""
    code, out, _ = run(capsys, "lm", "train", toy_config_file, "--set", "training.learning_rate=1e9")
    assert code == 0 and "perplexity: inf" in out  # the case: a metric that is not finite
    run_dir = toy_config_file.parent / "run"
    metrics = strict((run_dir / "model" / "metrics.json").read_text())
    assert metrics["valid_perplexity"] is None and metrics["epoch"] >= 1


# --- a recording longer than the model ever heard is transcribed with a warning -------------------------------


def test_a_recording_far_longer_than_any_training_utterance_is_warned_about(tmp_path, capsys):
    model = speech_model_dir(tmp_path, "speech", seed=1)
    rng = np.random.default_rng(0)
    short = write_wav_file(tmp_path / "short.wav", rng.normal(size=4000) * 0.1)
    long = write_wav_file(tmp_path / "long.wav", rng.normal(size=8000 * 60) * 0.1)  # a minute
    code, out, err = run(capsys, "transcribe", "--model", model, short, long)
    assert code == 0 and len(out.splitlines()) == 2
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "long.wav: 60.0 s long" in warnings[0] and "at most 7 digits" in warnings[0]


# --- one more output folder under a file: the ensemble a perception model is made of -------------------------


def test_an_ensemble_output_under_a_file_fails_before_the_work(tmp_path, capsys):
    members = [speech_model_dir(tmp_path, f"member{seed}", seed=seed) for seed in (1, 2)]
    (tmp_path / "afile").write_text("a file\n")
    code, out, err = run(capsys, "perception", "ensemble", *members, "--output", tmp_path / "afile" / "x")
    line = one_error(err)
    assert code == 2 and "is a file, not a folder" in line and (tmp_path / "afile").read_text() == "a file\n"
