"""One test per workaround in seq2seq/compat.py: each fails, naming the workaround, when Keras changes under it.

This file and seq2seq/compat.py are the only places that touch private Keras
attributes, and compat.py the only one that imports a `keras.src` module
(tests/test_layout.py checks the rest of the code).
"""

import builtins
import gc
import weakref

import keras
import numpy as np
import pytest

from seq2seq import compat
from seq2seq.backup import EMAForValidation
from seq2seq.core.output import OutputProjection, heads_of
from seq2seq.models.encoder_decoder import Seq2SeqModel
from seq2seq.models.ensemble import Ensemble

SMALL = {"cell": "lstm", "units": 16, "num_layers": 1}


def test_flatten_layers_reaches_layers_nested_in_layers():
    """An ensemble's output layers sit two levels down (ensemble -> model -> decoder -> projection)."""
    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        member = Seq2SeqModel(12, 12, embedding_dim=8, encoder=SMALL, decoder={"cell": "gru", "units": 16})
        member.build()
        members.append(member)
    ensemble = Ensemble(members)
    heads = heads_of(ensemble)
    assert len(heads) == 2 and all(isinstance(head, OutputProjection) for head in heads)
    assert {id(head) for head in heads} == {id(head) for member in members for head in heads_of(member)}
    assert ensemble in compat.flatten_layers(ensemble)


def test_a_missing_private_interface_is_named(monkeypatch):
    monkeypatch.delattr(keras.Layer, "_flatten_layers")
    with pytest.raises(
        compat.KerasChanged, match=r"seq2seq\.compat\.flatten_layers: Keras .* `Dense\._flatten_layers`"
    ):
        compat.flatten_layers(keras.layers.Dense(2))


class ReusedIds:
    """`id()` as CPython's allocator hands it out: a freed object's id goes to the next new object."""

    def __init__(self):
        self.free, self.live, self.count = [], {}, 0

    def __call__(self, obj):
        key = builtins.id(obj)
        if key in self.live and self.live[key][0]() is obj:
            return self.live[key][1]
        gc.collect()  # Keras layers sit in reference cycles: free the unreachable ones now, not by chance
        if self.free:
            fake = self.free.pop()
        else:
            self.count += 1
            fake = self.count
        try:
            ref = weakref.ref(obj, lambda _, fake=fake, key=key: (self.free.append(fake), self.live.pop(key, None)))
        except TypeError:  # not weakly referenceable (dicts, ...): never freed here
            return key
        self.live[key] = (ref, fake)
        return fake


def bidirectional_ensemble() -> Ensemble:
    def member(seed):
        keras.utils.set_random_seed(seed)
        model = Seq2SeqModel(
            12,
            12,
            embedding_dim=8,
            encoder={**SMALL, "num_layers": 2, "bidirectional": True},
            decoder={"cell": "lstm", "units": 16},
            attention="bahdanau",
            attention_units=8,
        )
        model.build()
        return model

    return Ensemble([member(1), member(2)])


@pytest.mark.slow
def test_serialized_objects_held_survives_keras_ids_being_reused(tmp_path, monkeypatch):
    """Keras keys the objects it serializes by id(); a freed object's id reused must not merge two layers.

    Loading an ensemble of bidirectional models failed once in CI (a
    Bidirectional got an earlier backward layer as both its directions). With
    ids handed out as CPython does, plain `load_model` shows that failure; the
    model directories' loader and writer hold every object Keras serializes.
    """
    from seq2seq.model_dirs import _load_keras_model

    serialization_lib = compat.serialization_module()

    model = bidirectional_ensemble()
    monkeypatch.setattr(serialization_lib, "id", ReusedIds(), raising=False)
    with compat.serialized_objects_held() as held:
        model.save(tmp_path / "m.keras")
    assert held, "seq2seq.compat.serialized_objects_held: Keras no longer records serialized objects there"
    with pytest.raises(ValueError, match="go_backwards"):  # the failure the loader guards against
        keras.saving.load_model(tmp_path / "m.keras", compile=False, safe_mode=True)
    loaded = _load_keras_model(tmp_path / "m.keras")
    for member in loaded.members:
        for layer in member.encoder.core.recurrent_layers:
            assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert serialization_lib.record_object_after_serialization.__name__ == "record_object_after_serialization"
    np.testing.assert_allclose(loaded.members[1].get_weights()[0], model.members[1].get_weights()[0])


def ema_model() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.5, use_ema=True, ema_momentum=0.5), loss="mse")
    inputs = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    for _ in range(3):  # not fit(), whose end copies the average over the weights: here the average lags behind
        model.train_on_batch(inputs, np.ones((8, 2), "float32"))
    return model


def test_swap_ema_weights_exchanges_the_average_and_keeps_keras_state():
    model = ema_model()
    raw = model.get_weights()
    callback = keras.callbacks.SwapEMAWeights()
    callback.set_model(model)
    assert compat.ema_weights_in_model(callback) is False
    compat.swap_ema_weights(callback)
    average = model.get_weights()
    assert compat.ema_weights_in_model(callback) is True
    assert not np.allclose(average[0], raw[0])
    callback.on_test_begin()  # Keras' own hook reads the same state: the average is in, so it does not swap
    np.testing.assert_allclose(model.get_weights()[0], average[0], atol=1e-6)
    callback.on_test_end()  # ... and swaps back out
    np.testing.assert_allclose(model.get_weights()[0], raw[0], atol=1e-6)  # TF swaps by sums
    assert compat.ema_weights_in_model(callback) is False


def test_ema_for_validation_leaves_the_average_in_at_epoch_end():
    model = ema_model()
    raw = model.get_weights()
    callback = EMAForValidation()
    callback.set_model(model)
    callback.on_epoch_end(0)
    assert compat.ema_weights_in_model(callback) and not np.allclose(model.get_weights()[0], raw[0])
    callback.on_epoch_begin(1)  # Keras' own hook takes it out again
    np.testing.assert_allclose(model.get_weights()[0], raw[0], atol=1e-6)  # TF swaps by sums


def test_keras_fit_still_builds_through_the_method_the_multi_worker_patch_replaces(monkeypatch):
    """The two-process run in tests/test_distribute.py shows the patch working; this shows it is still reached."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    compat.check_symbolic_build(model)
    calls = []
    original = model._maybe_symbolic_build
    monkeypatch.setattr(model, "_maybe_symbolic_build", lambda **kwargs: (calls.append(kwargs), original(**kwargs)))
    model.fit(np.zeros((4, 3), "float32"), np.zeros((4, 2), "float32"), epochs=1, verbose=0)
    assert calls and "iterator" in calls[0], "seq2seq.compat.work_around_keras_multi_worker: Keras no longer calls it"
