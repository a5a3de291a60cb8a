"""A training run stopped at any moment loses nothing (issue 11, items 1, 2 and 8).

Each case runs `seq2seq train` (or `seq2seq lm train`) on a toy config in a
subprocess (tests/kill_run.py) that stops itself at a named point of epoch 2
with SIGKILL (or SIGINT / SIGTERM), then runs the same command again in this
process. The resumed run must end as the uninterrupted one did: every epoch
exactly once in `history.csv`, `validation_bleu.jsonl` and `checkpoints/`,
the same best-model choice, no partial or temporary file left, and the same
final weights (within float tolerance; the resume is exact).
"""

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import DATA, toy_translation_config

from seq2seq import config as config_lib
from seq2seq.cli import main
from seq2seq.lm.config import LMConfig

pytestmark = pytest.mark.slow  # every test trains in a subprocess, kills it and resumes

KILL_RUN = Path(__file__).with_name("kill_run.py")
EPOCHS = 3
TRANSLATION_PHASES = [
    "train-step",
    "validation-bleu",
    "validation-logged",
    "checkpoint-write",
    "checkpoint-written",
    "best-model-write",
    "history-written",
    "backup-write",
    "backup-renames",
    "backup-written",
]
LM_PHASES = ["train-step", "best-model-write", "history-written", "backup-write", "backup-renames"]


def translation_config(folder: Path, **training) -> list[str]:
    """`train FILE`: the toy translation config, several batches an epoch, each epoch a new best by loss."""
    config = toy_translation_config(
        folder / "run",
        epochs=EPOCHS,
        shuffle_buffer=100,
        max_tokens=60,
        select_by="loss",
        keep_checkpoints=5,
        **training,
    )
    config_lib.save(config, folder / "toy.yaml")
    return ["train", str(folder / "toy.yaml")]


def lm_config(folder: Path) -> list[str]:
    """`lm train FILE`: a tiny word-level LSTM language model."""
    config = config_lib.from_dict(
        LMConfig,
        {
            "data": {"dir": str(DATA), "train": "toy_lm.train.txt", "valid": "toy_lm.valid.txt"},
            "model": {"embedding_dim": 16, "rnn": {"cell": "lstm", "units": 16}},
            "training": {"batch_size": 2, "window_length": 4, "epochs": EPOCHS, "learning_rate": 0.01},
            "run_dir": str(folder / "run"),
        },
    )
    config_lib.save(config, folder / "toy.yaml")
    return ["lm", "train", str(folder / "toy.yaml")]


def averaged_config(folder: Path) -> list[str]:
    """The toy translation config with weight averaging (validation and the best model use the average)."""
    return translation_config(folder, ema_momentum=0.9)


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    import h5py

    values = {}
    with h5py.File(run_dir / "backup" / "latest.weights.h5") as store:
        store.visititems(lambda name, item: values.__setitem__(name, item[()]) if hasattr(item, "shape") else None)
    return values


def history(run_dir: Path) -> list[dict]:
    with open(run_dir / "history.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted runs, by kind."""
    runs = {}
    for kind, make in (("translation", translation_config), ("lm", lm_config), ("ema", averaged_config)):
        folder = tmp_path_factory.mktemp(f"straight_{kind}")
        assert main(make(folder)) == 0
        runs[kind] = folder / "run"
    return runs


def stopped_then_resumed(tmp_path: Path, make, phase: str, signal_name: str, capsys) -> tuple[Path, str]:
    argv = make(tmp_path)
    stopped = subprocess.run(
        [sys.executable, str(KILL_RUN), phase, signal_name, *argv], capture_output=True, text=True, timeout=600
    )
    expected = -signal.SIGKILL if signal_name == "KILL" else 130
    assert stopped.returncode == expected, stopped.stderr[-3000:]
    capsys.readouterr()
    assert main(argv) == 0  # the same command
    return tmp_path / "run", stopped.stderr


def check_nothing_lost(run_dir: Path, straight_dir: Path, translation: bool) -> None:
    rows, expected_rows = history(run_dir), history(straight_dir)
    assert [int(row["epoch"]) for row in rows] == list(range(EPOCHS))
    for row, expected in zip(rows, expected_rows):
        np.testing.assert_allclose(float(row["loss"]), float(expected["loss"]), rtol=1e-4)
        np.testing.assert_allclose(float(row["val_loss"]), float(expected["val_loss"]), rtol=1e-4)
    best, expected_best = (json.loads((folder / "best.json").read_text()) for folder in (run_dir, straight_dir))
    assert (best["monitor"], best["epoch"]) == (expected_best["monitor"], expected_best["epoch"])
    assert best["best"] == pytest.approx(expected_best["best"], rel=1e-4)
    metrics = json.loads((run_dir / "model" / "metrics.json").read_text())
    assert metrics["epoch"] == json.loads((straight_dir / "best.json").read_text())["epoch"]
    leftovers = [path.name for path in run_dir.rglob(".*") if path.name != ".lock"]
    assert leftovers == [], "partial or temporary files left behind"
    if translation:
        entries = [json.loads(line) for line in (run_dir / "validation_bleu.jsonl").read_text().splitlines()]
        assert [entry["epoch"] for entry in entries] == list(range(1, EPOCHS + 1))
        names = sorted(path.name for path in (run_dir / "checkpoints").iterdir())
        assert names == [f"epoch-{epoch:03d}.weights.h5" for epoch in range(1, EPOCHS + 1)]
    resumed, uninterrupted = weights(run_dir), weights(straight_dir)
    assert resumed.keys() == uninterrupted.keys() and len(resumed) > 5
    for name in resumed:
        np.testing.assert_allclose(resumed[name], uninterrupted[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("phase", TRANSLATION_PHASES)
def test_a_translation_run_killed_at_any_phase_loses_nothing(phase, straight, tmp_path, capsys):
    run_dir, _ = stopped_then_resumed(tmp_path, translation_config, phase, "KILL", capsys)
    check_nothing_lost(run_dir, straight["translation"], translation=True)


@pytest.mark.parametrize("phase", LM_PHASES)
def test_a_language_model_run_killed_at_any_phase_loses_nothing(phase, straight, tmp_path, capsys):
    run_dir, _ = stopped_then_resumed(tmp_path, lm_config, phase, "KILL", capsys)
    check_nothing_lost(run_dir, straight["lm"], translation=False)


@pytest.mark.parametrize(
    "signal_name,phase", [("INT", "validation-bleu"), ("TERM", "train-step"), ("INT", "backup-write")]
)
def test_ctrl_c_and_sigterm_end_with_one_line_and_resume_like_a_kill(signal_name, phase, straight, tmp_path, capsys):
    run_dir, stderr = stopped_then_resumed(tmp_path, translation_config, phase, signal_name, capsys)
    assert stderr.rstrip().splitlines()[-1] == (
        "interrupted (run the same command to resume from the last finished epoch)"
    )
    assert "Traceback" not in stderr
    check_nothing_lost(run_dir, straight["translation"], translation=True)


@pytest.mark.parametrize("phase", ["validation-logged", "backup-written"])
def test_a_run_with_weight_averaging_resumes_with_raw_and_averaged_weights(phase, straight, tmp_path, capsys):
    """The backup is written while the average is in the model; it must still hold the raw weights."""
    run_dir, _ = stopped_then_resumed(tmp_path, averaged_config, phase, "KILL", capsys)
    check_nothing_lost(run_dir, straight["ema"], translation=True)
