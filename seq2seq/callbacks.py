"""Keras callbacks of training runs: epoch numbers, NaN stop, throughput, best model, validation scores, checkpoints."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import keras

from seq2seq.documents import json_text
from seq2seq.errors import UserError
from seq2seq.measures import METRICS
from seq2seq.outputs import atomic_path, atomic_write, partial_files


class ResetStates(keras.callbacks.Callback):
    """Zeroes a stateful model's carried state at each epoch and before validation."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_states()

    def on_test_begin(self, logs=None):
        self.model.reset_states()

    def on_test_end(self, logs=None):
        self.model.reset_states()


class EpochNumber(keras.callbacks.Callback):
    """Keeps `variable` (a `tf.Variable` the training pipeline reads) equal to the epoch being trained.

    The pipeline derives each epoch's shuffle seed from it, so a resumed run
    reads epoch k in the order the uninterrupted run would have.
    """

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


class StopOnNaN(keras.callbacks.Callback):
    """Ends training with a `UserError` naming the epoch and step when the loss stops being finite.

    It raises during the batch, before the epoch ends, so the resume backup,
    the epoch checkpoints and the best model all stay those of the last
    finished epoch: nothing trained on a NaN loss is written.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise UserError(
                f"the training loss became {float(loss)} at epoch {self._epoch + 1}, step {batch + 1}; "
                "the run folder keeps the last finished epoch. Lower training.learning_rate or set "
                "training.clip_norm, then run the same command to resume."
            )


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

    def __init__(
        self, export: Callable[[int, dict], None], state_file: str | Path, monitor: str = "val_loss", mode: str = "min"
    ):
        super().__init__()
        self.export = export
        self.state_file = Path(state_file)
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0
        self.best = math.inf
        if self.state_file.exists():  # a resumed run; a best kept by another measure does not count
            state = json.loads(self.state_file.read_text())
            if state.get("monitor") == monitor:
                self.best = state["best"] * self.sign

    def on_epoch_end(self, epoch, logs=None):
        self.offer((logs or {}).get(self.monitor), epoch, logs)

    def offer(self, value, epoch: int, logs: dict | None = None) -> bool:
        """Exports (and returns True) if `value` beats the best so far."""
        if value is None or not self.sign * float(value) < self.best:
            return False
        self.best = self.sign * float(value)
        self.export(epoch, dict(logs or {}))
        with atomic_write(self.state_file) as handle:
            handle.write(json_text({"best": float(value), "monitor": self.monitor, "epoch": epoch + 1}))
        return True


class ValidationScore(keras.callbacks.Callback):
    """Validation BLEU (sacrebleu, cased, detokenized) or word error rate, each epoch and optionally every N steps.

    Each evaluation decodes the sources of every validation set with
    `translate` (a callable from a list of sources to a list of hypotheses,
    normally greedy search with the model being trained; all sets go in one
    call, so they share batches), scores each set with `metric` (see
    `METRICS`), prints the scores and a few sample outputs of the first set,
    and appends `{"epoch", "step", METRIC, "sets"}` to `log_file` (JSON
    lines). The overall figure is the unweighted mean of the sets' scores, so
    every domain counts the same whatever its size; with one set it is that
    set's. At epoch end it goes into the epoch logs as `val_METRIC` (and each
    set's as `val_METRIC_NAME` when there are several), so the callbacks
    after this one (TensorBoard, the CSV log, `KeepBest`, `EarlyStopping`)
    see it. Mid-epoch scores go to `keep_best.offer`, so the best model is
    kept whenever it was measured, and to TensorBoard under
    `validation_METRIC/steps`.

    Args:
        translate: sources -> hypotheses (sources are lines, or feature arrays, which are not printed).
        sets: `(name, sources, references)` per validation set.
        metric: "bleu" (higher is better) or "wer" (lower is better).
    """

    def __init__(
        self,
        translate: Callable[[list], list[str]],
        sets: list[tuple[str, list, list[str]]],
        every_steps: int | None = None,
        samples: int = 3,
        log_file: str | Path | None = None,
        keep_best: KeepBest | None = None,
        tensorboard_dir: str | Path | None = None,
        print_fn: Callable[[str], None] = print,
        metric: str = "bleu",
    ):
        super().__init__()
        if not sets:
            raise ValueError("ValidationScore needs at least one validation set.")
        self.metric = metric
        self.label, self.scorer = METRICS[metric]
        self.translate = translate
        self.sets = [(name, list(sources), list(references)) for name, sources, references in sets]
        self.every_steps = every_steps
        self.samples = samples
        self.log_file = None if log_file is None else Path(log_file)
        self.keep_best = keep_best
        self.tensorboard_dir = tensorboard_dir
        self.print_fn = print_fn
        self._writer = None
        self._last = None  # (epoch, step, overall, per set) of the latest evaluation

    def _step(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        return int(optimizer.iterations.numpy()) if optimizer is not None else 0

    def evaluate(self, epoch: int) -> tuple[float, dict[str, float]]:
        """Decodes the validation sources; returns the overall score and each set's."""
        step = self._step()
        if self._last is not None and self._last[:2] == (epoch, step):
            return self._last[2:]  # measured mid-epoch at the epoch's last step
        started = time.perf_counter()
        hypotheses = iter(self.translate([line for _, sources, _ in self.sets for line in sources]))
        per_set, first = {}, None
        for name, sources, references in self.sets:
            outputs = [next(hypotheses) for _ in sources]
            per_set[name] = self.scorer(outputs, references)
            first = first or (sources, references, outputs)
        score = sum(per_set.values()) / len(per_set)
        seconds = time.perf_counter() - started
        count = sum(len(sources) for _, sources, _ in self.sets)
        details = "" if len(per_set) == 1 else " = mean of " + ", ".join(f"{n} {s:.2f}" for n, s in per_set.items())
        self.print_fn(
            f"validation {self.label} {score:.2f}{details} (epoch {epoch + 1}, step {step}; "
            f"{count} examples in {seconds:.1f} s)"
        )
        sources, references, outputs = first
        for index in range(min(self.samples, len(outputs))):
            source = f"  source     {sources[index]}\n" if isinstance(sources[index], str) else ""
            self.print_fn(f"{source}  reference  {references[index]}\n  hypothesis {outputs[index]}")
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_file, "a", encoding="utf-8") as handle:
                handle.write(json_text({"epoch": epoch + 1, "step": step, self.metric: score, "sets": per_set}) + "\n")
        self._write_scalar(score, step)
        self._last = (epoch, step, score, per_set)
        return score, per_set

    def _write_scalar(self, score: float, step: int) -> None:
        if self.tensorboard_dir is None:
            return
        try:
            import tensorflow as tf
        except ImportError:  # another Keras backend without TensorFlow: console and log file only
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(Path(self.tensorboard_dir) / f"validation_{self.metric}"))
        with self._writer.as_default():
            tf.summary.scalar(f"validation_{self.metric}/steps", score, step=step)
        self._writer.flush()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps and self._step() % self.every_steps == 0:
            score, _ = self.evaluate(self._epoch)
            if self.keep_best is not None:
                self.keep_best.offer(score, self._epoch, {f"val_{self.metric}": score})

    def on_epoch_end(self, epoch, logs=None):
        score, per_set = self.evaluate(epoch)
        if logs is not None:
            logs[f"val_{self.metric}"] = score
            if len(per_set) > 1:
                logs.update({f"val_{self.metric}_{name}": value for name, value in per_set.items()})


class EpochCheckpoints(keras.callbacks.Callback):
    """Saves the weights after every epoch as `directory/epoch-NNN.weights.h5`, keeping the last `keep`.

    `seq2seq average-checkpoints` averages these files. Each is written
    through :func:`~seq2seq.outputs.atomic_path`, so an `epoch-NNN` file is
    never partial; a partial file left by a killed run is removed when
    training starts again.
    """

    def __init__(self, directory: str | Path, keep: int):
        super().__init__()
        self.directory = Path(directory)
        self.keep = keep

    def on_train_begin(self, logs=None):
        for partial in partial_files(self.directory):  # left by a run killed while saving
            partial.unlink()

    def on_epoch_end(self, epoch, logs=None):
        with atomic_path(self.directory / f"epoch-{epoch + 1:03d}.weights.h5") as temporary:
            self.model.save_weights(str(temporary), overwrite=True)
        for old in epoch_checkpoints(self.directory)[: -self.keep]:
            old.unlink()


def epoch_checkpoints(directory: str | Path) -> list[Path]:
    """The `epoch-NNN.weights.h5` files in `directory`, oldest first."""
    return sorted(Path(directory).glob("epoch-[0-9][0-9][0-9].weights.h5"))
