"""training.distribute: MirroredStrategy over two logical CPU devices trains, measures and exports."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seq2seq.distribute import is_chief, make_strategy
from seq2seq.errors import UserError


def test_mirrored_training_on_two_replicas(tmp_path):
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("distribute_run.py")), str(tmp_path / "run")],
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "distribute: mirrored, 2 replicas" in done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["model"] and result["val_bleu"] >= 0
    # The loss is the mean over replicas, not their sum (which would be twice log perplexity here).
    assert result["loss"] == pytest.approx(math.log(result["perplexity"]), rel=0.1)
    # The same global batches on one device: the same training, up to float summation order. (Stated tolerance:
    # 2 % of the second epoch's loss; measured on this machine: 3.8985 on two replicas against 3.9025, 0.1 %.)
    from helpers import toy_translation_config
    from seq2seq.translation.training import train_translation_model

    train_translation_model(toy_translation_config(tmp_path / "one_device", epochs=2))
    import csv

    with open(tmp_path / "one_device" / "history.csv", newline="") as handle:
        one_device = float(list(csv.DictReader(handle))[-1]["loss"])
    assert result["loss"] == pytest.approx(one_device, rel=0.02)


def test_strategies_that_cannot_start_are_clear_errors(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UserError, match="training.distribute=multi_worker: .*TF_CONFIG"):
        make_strategy("multi_worker")
    assert make_strategy("none") is None


def test_only_the_chief_writes(monkeypatch):
    cluster = {"chief": ["h0:1"], "worker": ["h1:1", "h2:1"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert not is_chief(object())
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "chief", "index": 0}}))
    assert is_chief(object())
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["h1:1", "h2:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert is_chief(object())  # without a chief, worker 0 is the chief
    assert is_chief(None)


def test_each_worker_but_the_chief_keeps_its_own_folder(monkeypatch, tmp_path):
    from seq2seq.distribute import worker_folder

    cluster = {"worker": ["localhost:1", "localhost:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert worker_folder(tmp_path, "multi_worker") == tmp_path / "worker-1"
    assert worker_folder(tmp_path, "mirrored") == tmp_path  # TF_CONFIG matters for multi_worker only
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert worker_folder(tmp_path, "multi_worker") == tmp_path  # worker 0 is the chief: the run folder itself
