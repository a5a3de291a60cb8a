"""Pieces of a training run shared by the language model and the translator."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import keras


def configure_precision(mixed_precision: bool) -> None:
    """`mixed_bfloat16` (bfloat16 compute, float32 weights) or plain float32.

    On CPUs with AMX, bfloat16 matrix products run several times faster.
    """
    keras.config.set_dtype_policy("mixed_bfloat16" if mixed_precision else "float32")


def start_run(run_dir: str | Path, seed: int) -> Path:
    """Creates the run folder and seeds Python, NumPy and the backend; returns the folder."""
    run_dir = Path(run_dir)
    refuse_old_backup(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    return run_dir


def refuse_old_backup(run_dir: Path) -> None:
    """Raises `UserError` when `run_dir` holds a resume backup of version 0.1 (weight layout 1).

    Its optimizer slots are in another order than today's, so it cannot be
    resumed exactly; its epoch checkpoints still average and its model still loads.
    """
    from seq2seq.errors import UserError
    from seq2seq.model_dirs import LAYOUT, weights_layout

    backup = run_dir / "backup" / "latest.weights.h5"
    if backup.is_file() and weights_layout(backup) < LAYOUT:
        raise UserError(f"{run_dir}: this run folder was written by seq2seq 0.1 and cannot be resumed by this "
                        "version. Start a new run_dir (set training.init_from to its model folder to keep the "
                        "weights); `seq2seq average-checkpoints` still reads its checkpoints.")


@contextlib.contextmanager
def restored_dtype_policy():
    """Puts the global Keras dtype policy back as it was when the block (or decorated function) ends."""
    previous = keras.config.dtype_policy()
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(name: str, learning_rate: float, clip_norm: float | None,
                   ema_momentum: float | None = None) -> keras.optimizers.Optimizer:
    """Adam or plain SGD, clipping the global gradient norm to `clip_norm`.

    With `ema_momentum`, the optimizer also keeps an exponential moving
    average of the weights (Polyak averaging; see :func:`standard_callbacks`).
    """
    options = {"global_clipnorm": clip_norm}
    if ema_momentum is not None:
        options.update(use_ema=True, ema_momentum=ema_momentum)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, **options)
    return keras.optimizers.Adam(learning_rate, **options)


def standard_callbacks(run_dir: Path, training, measurements: list[keras.callbacks.Callback],
                       monitor: str = "val_loss", stop_monitor: str | None = None,
                       stop_mode: str = "min") -> list[keras.callbacks.Callback]:
    """The callbacks of a training run in `run_dir`, in the order that keeps resume exact.

    Order (Keras calls `on_epoch_end` in list order, with one shared `logs`):

    1. `ReduceLROnPlateau` on `monitor` (a validation loss), so that a cut is
       in the optimizer before the backup;
    2. `BackupAndRestore`: weights, optimizer state (learning rate and weight
       average included) and the epoch counter; rerunning the same command
       continues from the last finished epoch;
    3. with `training.ema_momentum`, Keras' `SwapEMAWeights`: the average goes
       into the model for validation and from here to the end of the epoch, so
       the backup above holds the raw weights and everything below sees the
       averaged ones;
    4. `measurements` (throughput, validation BLEU, checkpoints, best-model
       export), which may add to `logs`;
    5. `EarlyStopping` on `stop_monitor` (default `monitor`) in `stop_mode`,
       TensorBoard and the CSV log (`history.csv`), which read those logs.
    """
    callbacks: list[keras.callbacks.Callback] = []
    if training.lr_decay_factor < 1.0:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=training.lr_decay_factor, patience=training.lr_decay_patience,
            min_delta=training.lr_decay_min_delta, min_lr=1e-6, verbose=1))
    callbacks.append(keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False))
    if training.ema_momentum is not None:
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    callbacks += measurements
    callbacks += [
        keras.callbacks.EarlyStopping(monitor=stop_monitor or monitor, mode=stop_mode,
                                      patience=training.early_stopping_patience, verbose=1),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    return callbacks


def progress_verbosity() -> int | str:
    """A live progress bar on a terminal, one line per epoch in logs and CI."""
    return "auto" if os.isatty(2) and not os.environ.get("CI") else 2


def copy_weights(model: keras.Model, source: keras.Model, directory: str) -> None:
    """Starts `model` from the weights of `source`, loaded from `directory` (`training.init_from`)."""
    from seq2seq.errors import UserError

    try:
        model.set_weights(source.get_weights())
    except ValueError as error:
        raise UserError(f"training.init_from={directory}: its architecture differs from this config's "
                        f"({str(error).splitlines()[0]}).") from None
    print(f"initialised from {directory}", flush=True)
