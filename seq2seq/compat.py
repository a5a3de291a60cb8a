"""Every use of a private Keras interface, in one place, each with why there is no public one.

Keras 3 has no public API for what these functions do. Nothing outside this
module touches a `keras.src` module or an underscored attribute of a Keras
object (`tests/test_layout.py` checks). `tests/test_compat.py` has one test per
workaround: when a Keras release renames or changes what one relies on, that
test fails and names it, and the functions here raise :class:`KerasChanged`
(naming the workaround and the Keras version) instead of failing somewhere
far away.

The workarounds:

- :func:`flatten_layers`: every layer nested in a model, at any depth
  (`Layer._flatten_layers`; `Model.layers` lists direct children only).
- :func:`serialized_objects_held`: keeps alive every object Keras serializes
  while a `.keras` file is saved or loaded (`serialization_lib`'s id-keyed
  shared-object scope).
- :func:`ema_weights_in_model` and :func:`swap_ema_weights`: the state and the
  swap of `keras.callbacks.SwapEMAWeights`, which the resume backup needs to
  save the raw weights while the average is in the model.
- :func:`work_around_keras_multi_worker`: two Keras bugs of `fit` under
  `MultiWorkerMirroredStrategy` (`Model._maybe_symbolic_build`).
"""

from __future__ import annotations

import contextlib
import inspect
import types

import keras


class KerasChanged(RuntimeError):
    """A private Keras interface that a workaround here relies on is gone or changed."""

    def __init__(self, workaround: str, what: str):
        super().__init__(
            f"seq2seq.compat.{workaround}: Keras {keras.__version__} changed {what}; "
            "this workaround needs updating for it (see seq2seq/compat.py)."
        )


def _private(owner, name: str, workaround: str):
    try:
        return getattr(owner, name)
    except AttributeError:
        raise KerasChanged(workaround, f"`{type(owner).__name__}.{name}` (no longer there)") from None


def flatten_layers(model: keras.Layer) -> list[keras.Layer]:
    """`model` and every layer nested in it, at any depth, each once."""
    return list(_private(model, "_flatten_layers", "flatten_layers")())


def serialization_module():
    """Keras' `serialization_lib` module, whose id-keyed shared-object scope :func:`serialized_objects_held` holds."""
    from keras.src.saving import serialization_lib

    return serialization_lib


@contextlib.contextmanager
def serialized_objects_held():
    """Within it, every object Keras serializes stays alive, so no two get the same `id()`.

    Keras' shared-object detection (`keras.src.saving.serialization_lib`,
    active while a `.keras` file is saved or loaded) keys the configs it has
    seen by `id(obj)` without holding the objects. When one is freed, a later
    object can get its id and be taken for the same object. Saving, a
    temporary made during `get_config` then wrote a Bidirectional's backward
    layer as a reference to its forward layer. Loading, `Bidirectional`
    serializes the fresh recurrent layer it is given (our models build their
    layers from hyperparameters in `from_config`, inside Keras' sharing
    scope); when the layer of an earlier Bidirectional had been freed and its
    id reused, the new wrapper got that earlier backward layer as both its
    forward and backward layer, and loading failed ("Forward layer and
    backward layer should have different `go_backwards` value").
    """
    serialization_lib = serialization_module()
    original = _private(serialization_lib, "record_object_after_serialization", "serialized_objects_held")
    held = []

    def record(obj, config):
        held.append(obj)
        original(obj, config)

    serialization_lib.record_object_after_serialization = record
    try:
        yield held
    finally:
        serialization_lib.record_object_after_serialization = original


def ema_weights_in_model(callback: keras.callbacks.SwapEMAWeights) -> bool:
    """Whether `callback` has the weight average in the model (the raw weights in the optimizer)."""
    in_model = _private(callback, "_ema_weights_in_model", "ema_weights_in_model")
    if not isinstance(in_model, bool):
        raise KerasChanged("ema_weights_in_model", "`SwapEMAWeights._ema_weights_in_model` (not a bool)")
    return in_model


def swap_ema_weights(callback: keras.callbacks.SwapEMAWeights) -> None:
    """Exchanges the model's weights with the optimizer's average, and records which is where."""
    in_model = ema_weights_in_model(callback)
    _private(callback, "_swap_variables", "swap_ema_weights")()
    callback._ema_weights_in_model = not in_model


def work_around_keras_multi_worker(model: keras.Model, strategy) -> None:
    """Patches two Keras 3.15 bugs of `fit` under `MultiWorkerMirroredStrategy` on `model` (only there).

    1. Before the first step, Keras builds the model on one batch, which it
       gets by `strategy.reduce("MEAN", batch)`; that refuses a batch that
       is a dict or a tuple (keras-team/keras#20329), and would average
       token ids of batches with different shapes if it did not. Here the
       batch is the first local replica's (only its shapes matter).
    2. Keras averages each step's scalar logs across workers with
       `strategy.reduce("MEAN", value, axis=0)`, which fails on a scalar.
       Here the steps return each log as a one-element vector, which that
       reduction turns back into the scalar mean across workers.

    Remove when Keras fixes them (the two-process test in
    tests/test_distribute.py shows whether it still needs this).
    """
    import tensorflow as tf
    from keras import tree

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    check_symbolic_build(model)

    def first_replica(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(first_replica, next(batches))
                break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(maybe_symbolic_build, model)
    for name in ("train_step", "test_step"):
        setattr(model, name, vector_logs(getattr(model, name)))


def vector_logs(step):
    """`step` with each scalar log returned as a one-element vector (see :func:`work_around_keras_multi_worker`)."""
    import tensorflow as tf

    def stepped(data):
        return {key: tf.reshape(value, (1,)) for key, value in step(data).items()}

    return stepped


def check_symbolic_build(model: keras.Model) -> None:
    """Raises :class:`KerasChanged` unless `model` has the two build methods the multi-worker patch replaces."""
    for name, parameters in (
        ("_maybe_symbolic_build", ["iterator", "data_batch"]),
        ("_symbolic_build", ["iterator", "data_batch"]),
    ):
        method = _private(model, name, "work_around_keras_multi_worker")
        if list(inspect.signature(method).parameters) != parameters:
            raise KerasChanged(
                "work_around_keras_multi_worker",
                f"the arguments of `Model.{name}` (now {list(inspect.signature(method).parameters)})",
            )
