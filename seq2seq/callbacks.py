"""Keras callbacks shared by language-model and translation training."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

import keras

from seq2seq.textio import atomic_write


class ResetStates(keras.callbacks.Callback):
    """Zeroes a stateful model's carried state at each epoch and before validation."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states()

    def on_test_begin(self, logs=None):
        self.model.reset_states()

    def on_test_end(self, logs=None):
        self.model.reset_states()


class Throughput(keras.callbacks.Callback):
    """Adds `tokens_per_second` (target tokens) to batch logs (progress bar) and epoch logs.

    Args:
        tokens_per_batch: a fixed count per batch, or None to read the epoch's
            running total from the `target_tokens` metric (:class:`TokenCount`).
    """

    def __init__(self, tokens_per_batch: int | None = None):
        super().__init__()
        self.tokens_per_batch = tokens_per_batch

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.batches = 0
        self.tokens = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        self.elapsed = time.perf_counter() - self.started
        if self.tokens_per_batch is not None:
            self.tokens = self.batches * self.tokens_per_batch
        elif logs is not None and "target_tokens" in logs:
            self.tokens = float(logs["target_tokens"])
        if logs is not None and self.elapsed > 0:
            logs["tokens_per_second"] = self.tokens / self.elapsed

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.batches:  # training time only, validation excluded
            logs["tokens_per_second"] = self.tokens / max(self.elapsed, 1e-9)
            logs["train_seconds"] = self.elapsed


class KeepBest(keras.callbacks.Callback):
    """Calls `export(epoch, logs)` whenever `monitor` improves; remembers the best across restarts.

    The best value is kept in `state_file` (JSON), so a resumed run does not
    overwrite a better model with a worse one.
    """

    def __init__(self, export: Callable[[int, dict], None], state_file: str | Path,
                 monitor: str = "val_loss", mode: str = "min"):
        super().__init__()
        self.export = export
        self.state_file = Path(state_file)
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0
        self.best = math.inf
        if self.state_file.exists():
            self.best = json.loads(self.state_file.read_text())["best"] * self.sign

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not self.sign * float(value) < self.best:
            return
        self.best = self.sign * float(value)
        self.export(epoch, dict(logs))
        with atomic_write(self.state_file) as handle:
            json.dump({"best": float(value), "monitor": self.monitor, "epoch": epoch + 1}, handle)
