"""Pieces of a training run shared by the language model and the translator."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import keras

POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def tensorflow_installed() -> bool:
    """Whether TensorFlow can be imported here (a JAX-only accelerator machine has none; TensorBoard needs it)."""
    import importlib.util

    return importlib.util.find_spec("tensorflow") is not None


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return {flag for line in handle if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    except OSError:  # not Linux: no flags known, so no bfloat16 assumed
        return set()


def _gpu_compute_capability() -> tuple[int, int] | None:
    if keras.backend.backend() == "jax":
        import jax

        gpus = [device for device in jax.devices() if device.platform == "gpu"]
        if not gpus:
            return None
        major, _, minor = str(getattr(gpus[0], "compute_capability", "0.0")).partition(".")
        return int(major or 0), int(minor or 0)
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    return tuple(tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0)))


def resolve_precision(choice: str) -> tuple[str, str]:
    """`(precision, reason)` for `training.mixed_precision`; `auto` looks at the hardware.

    On a GPU: bfloat16 from compute capability 8.0 (Ampere) on, float16 with
    loss scaling before. On a CPU: bfloat16 when it has native bfloat16
    matrix instructions (AMX or AVX-512 BF16), float32 otherwise (on AVX2-only
    CPUs bfloat16 was measured slower than float32).
    """
    if choice != "auto":
        return choice, "set in the config"
    capability = _gpu_compute_capability()
    if capability is not None:
        if capability >= (8, 0):
            return "bfloat16", f"GPU with compute capability {capability[0]}.{capability[1]}"
        return "float16", f"GPU with compute capability {capability[0]}.{capability[1]} (no fast bfloat16)"
    flags = _cpu_flags()
    native = sorted(flags & {"amx_bf16", "avx512_bf16"})
    if native:
        return "bfloat16", f"the CPU has {', '.join(native)}"
    return "float32", "the CPU has no native bfloat16 instructions"


def cudnn_warning(cores: dict) -> str | None:
    """The one warning for a GPU run whose config keeps recurrent layers off the cuDNN kernels, or None.

    `cores` maps config keys (`model.encoder`, `model.rnn`) to their
    `RNNConfig`. LSTM and GRU layers are built with cuDNN-eligible arguments
    (see :class:`~seq2seq.core.recurrent.RecurrentStack`); `cell: simple`
    has no cuDNN kernel. (The attention decoder steps its cell inside the
    attention loop whatever the config, as attention decoders do.) Without a
    GPU there is nothing to warn about.
    """
    if _gpu_compute_capability() is None:
        return None
    keys = [f"{key}.cell=simple" for key, core in cores.items() if core.cell == "simple"]
    if not keys:
        return None
    return (
        f"warning: {', '.join(keys)} has no cuDNN kernel on the GPU; cell: lstm or gru trains several "
        "times faster there."
    )


def configure_precision(choice: str, announce: bool = False) -> str:
    """Sets the global Keras dtype policy for `training.mixed_precision`; returns the precision used.

    bfloat16 and float16 compute with float32 weights (`mixed_*` policies);
    Keras wraps the optimizer in loss scaling for float16. Softmax and the
    losses run in float32 whatever the policy (the output layer casts its
    logits to float32).
    """
    precision, reason = resolve_precision(choice)
    keras.config.set_dtype_policy(POLICIES[precision])
    if announce:
        print(f"precision: {precision} ({'auto: ' if choice == 'auto' else ''}{reason})", flush=True)
    return precision


@contextlib.contextmanager
def restored_dtype_policy():
    """Puts the global Keras dtype policy back as it was when the block (or decorated function) ends."""
    previous = keras.config.dtype_policy()
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(
    name: str, learning_rate: float, clip_norm: float | None, ema_momentum: float | None = None
) -> keras.optimizers.Optimizer:
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


def compile_model(model: keras.Model, config) -> None:
    """Compiles a translator (or perception model) with the optimizer, loss and metrics of `config.training`."""
    from seq2seq.core.likelihood import MaskedCrossEntropy, Perplexity, TokenCount

    training = config.training
    model.compile(
        optimizer=make_optimizer(training.optimizer, training.learning_rate, training.clip_norm, training.ema_momentum),
        loss=MaskedCrossEntropy(label_smoothing=training.label_smoothing),
        metrics=[Perplexity(label_smoothing=training.label_smoothing), TokenCount()],
    )


def standard_callbacks(
    run_dir: Path,
    training,
    measurements: list[keras.callbacks.Callback],
    monitor: str = "val_loss",
    stop_monitor: str | None = None,
    stop_mode: str = "min",
    writes: bool = True,
) -> list[keras.callbacks.Callback]:
    """The callbacks of a training run in `run_dir`, in the order that keeps resume exact and loses nothing.

    Keras calls `on_epoch_end` in list order, with one shared `logs`:

    0. `StopOnNaN`, which ends the run with an error as soon as the loss is not finite;
    1. `ReduceLROnPlateau` on `monitor` (a validation loss), so that a cut is
       in the optimizer before the backup;
    2. with `training.ema_momentum`, :class:`~seq2seq.backup.EMAForValidation`:
       the weight average is in the model for validation and from here to the
       end of the epoch, so everything below sees the averaged weights;
    3. `measurements` (throughput, validation BLEU, checkpoints, best-model
       export), which may add to `logs`;
    4. `EarlyStopping` on `stop_monitor` (default `monitor`) in `stop_mode`,
       TensorBoard and the CSV log (`history.csv`), which read those logs
       (these two only when `writes`: the chief of a multi-worker run);
    5. last, the resume backup (:class:`~seq2seq.backup.AtomicBackupAndRestore`):
       raw weights, optimizer state (learning rate and weight average
       included), the epoch counter and the counters of 1 and 4. Its
       completion is the commit point of the epoch: a process stopped
       before it redoes the epoch on resume, after
       :func:`seq2seq.run_folder.roll_back` has removed what it wrote of it,
       so every finished epoch is recorded exactly once.
    """
    from seq2seq.backup import AtomicBackupAndRestore, EMAForValidation
    from seq2seq.callbacks import StopOnNaN
    from seq2seq.distribute import worker_folder

    callbacks: list[keras.callbacks.Callback] = [StopOnNaN()]
    stateful = []
    if training.lr_decay_factor < 1.0:
        stateful.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=training.lr_decay_factor,
                patience=training.lr_decay_patience,
                min_delta=training.lr_decay_min_delta,
                min_lr=1e-6,
                verbose=1,
            )
        )
    ema = EMAForValidation() if training.ema_momentum is not None else None
    stateful.append(
        keras.callbacks.EarlyStopping(
            monitor=stop_monitor or monitor, mode=stop_mode, patience=training.early_stopping_patience, verbose=1
        )
    )
    callbacks += stateful[:-1] + ([ema] if ema else []) + measurements + stateful[-1:]
    if writes:  # only the chief of a multi-worker run writes the logs
        if tensorflow_installed():  # Keras's TensorBoard callback writes with tf.summary
            callbacks.append(
                keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0)
            )
        callbacks.append(keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True))
    backup = (run_dir if writes else worker_folder(run_dir, training.distribute)) / "backup"  # a worker's own
    callbacks.append(AtomicBackupAndRestore(str(backup), stateful=stateful, ema=ema))
    return callbacks


def progress_verbosity() -> int | str:
    """A live progress bar on a terminal, one line per epoch in logs and CI."""
    return "auto" if os.isatty(2) and not os.environ.get("CI") else 2


def vocabulary_identity(vocab) -> object:
    """What makes two vocabularies the same: a SentencePiece model's bytes, or a word list."""
    proto = getattr(vocab, "model_proto", None)
    return proto if proto is not None else tuple(vocab.tokens)


def warm_start(model: keras.Model, directory: str, vocabularies: tuple, load) -> None:
    """Starts `model` from the weights of the model directory `directory` (`training.init_from`).

    `load(directory)` gives `(model, *vocabularies)` (a `model_dirs` loader);
    the directory's vocabularies must be this run's `vocabularies`, and its
    architecture this config's. A resumed run's backup still takes precedence
    (it is loaded when training begins). One function for every task.
    """
    from seq2seq.errors import UserError

    source, *source_vocabularies = load(directory)
    if [vocabulary_identity(v) for v in source_vocabularies] != [vocabulary_identity(v) for v in vocabularies]:
        raise UserError(
            f"training.init_from={directory}: its vocabulary differs from this run's (start a new run_dir with "
            "the directory's vocabulary files copied into it, or train without init_from)."
        )
    try:
        model.set_weights(source.get_weights())
    except ValueError as error:
        raise UserError(
            f"training.init_from={directory}: its architecture differs from this config's "
            f"({str(error).splitlines()[0]})."
        ) from None
    print(f"initialised from {directory}", flush=True)
