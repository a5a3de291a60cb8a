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


@contextlib.contextmanager
def restored_dtype_policy():
    """Puts the global Keras dtype policy back as it was when the block ends."""
    previous = keras.config.dtype_policy()
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(name: str, learning_rate: float, clip_norm: float | None,
                   ema_momentum: float | None = None) -> keras.optimizers.Optimizer:
    """Adam or plain SGD, clipping the global gradient norm to `clip_norm`.

    With `ema_momentum`, the optimizer also keeps an exponential moving
    average of the weights (Polyak averaging; see :func:`averaging_callbacks`).
    """
    options = {"global_clipnorm": clip_norm}
    if ema_momentum is not None:
        options.update(use_ema=True, ema_momentum=ema_momentum)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, **options)
    return keras.optimizers.Adam(learning_rate, **options)


def averaging_callbacks(training) -> list[keras.callbacks.Callback]:
    """With `training.ema_momentum`: validate, select, export and back up the averaged weights.

    Keras' `SwapEMAWeights` swaps the moving average into the model for
    validation and at each epoch end, so it must come before the callbacks
    that export or measure the model. Training steps use the raw weights; a
    resumed run continues from the averaged ones (documented trade-off).
    """
    if training.ema_momentum is None:
        return []
    return [keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]


def standard_callbacks(run_dir: Path, monitor: str, training, stop_monitor: str | None = None,
                       stop_mode: str = "min") -> list[keras.callbacks.Callback]:
    """Resume, learning-rate decay, early stopping, TensorBoard and a CSV log, in `run_dir`.

    `training` is the experiment's training config (the `lr_decay_*` and
    `early_stopping_patience` keys are read). The learning rate decays when
    `monitor` (a loss) stalls; early stopping watches `stop_monitor` (default:
    `monitor`) in `stop_mode` ("min" or "max").

    `BackupAndRestore` saves weights, optimizer state (learning rate included)
    and the epoch counter at each epoch end; restarting the same command
    continues from there.
    """
    callbacks = [keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False)]
    if training.lr_decay_factor < 1.0:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=training.lr_decay_factor, patience=training.lr_decay_patience,
            min_delta=training.lr_decay_min_delta, min_lr=1e-6, verbose=1))
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
