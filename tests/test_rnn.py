"""The recurrent core: shapes, masking, states, the Elman equations, serialization."""

import numpy as np
import pytest

from seq2seq.core.recurrent import RNN_ARGUMENTS, RecurrentStack, core_arguments

CELLS = ["simple", "lstm", "gru"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_and_state_shapes(cell, bidirectional):
    core = RecurrentStack(cell=cell, units=6, num_layers=2, bidirectional=bidirectional)
    outputs, states = core(np.random.rand(3, 5, 4).astype("float32"))
    directions = 2 if bidirectional else 1
    assert tuple(outputs.shape) == (3, 5, 6 * directions)
    assert len(states) == 2
    per_layer = (2 if cell == "lstm" else 1) * directions
    assert [len(layer) for layer in states] == [per_layer, per_layer] == [core.states_per_layer] * 2
    assert all(tuple(state.shape) == (3, 6) for layer in states for state in layer)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_is_ignored_with_a_mask(cell, bidirectional):
    """A padded, masked sequence gives the same outputs and final states as the unpadded one."""
    core = RecurrentStack(cell=cell, units=5, num_layers=2, bidirectional=bidirectional)
    real = np.random.rand(1, 3, 4).astype("float32")
    padded = np.concatenate([real, np.random.rand(1, 4, 4).astype("float32")], axis=1)
    mask = np.array([[True] * 3 + [False] * 4])
    short_out, short_states = core(real)
    long_out, long_states = core(padded, mask=mask)
    np.testing.assert_allclose(np.asarray(long_out)[:, :3], np.asarray(short_out), atol=1e-5)
    for short_layer, long_layer in zip(short_states, long_states):
        for short, long in zip(short_layer, long_layer):
            np.testing.assert_allclose(np.asarray(long), np.asarray(short), atol=1e-5)


def test_initial_state_continues_a_sequence():
    """Running two halves with the state carried over equals running the whole."""
    core = RecurrentStack(cell="lstm", units=5, num_layers=2)
    x = np.random.rand(2, 6, 3).astype("float32")
    whole, _ = core(x)
    first, state = core(x[:, :3])
    second, _ = core(x[:, 3:], initial_state=state)
    np.testing.assert_allclose(np.concatenate([first, second], 1), np.asarray(whole), atol=1e-5)


@pytest.mark.parametrize("activation, f", [("tanh", np.tanh), ("relu", lambda z: np.maximum(z, 0.0))])
def test_simple_cell_is_the_elman_equation(activation, f):
    """s_t = f(x_t·U + s_{t-1}·W + b), computed by hand from the layer's weights."""
    core = RecurrentStack(cell="simple", units=4, num_layers=1, activation=activation)
    x = np.random.rand(2, 5, 3).astype("float32") - 0.5
    outputs, _ = core(x)
    U, W, b = (np.asarray(w) for w in core.recurrent_layers[0].get_weights())
    state = np.zeros((2, 4), "float32")
    for t in range(5):
        state = f(x[:, t] @ U + state @ W + b)
        np.testing.assert_allclose(np.asarray(outputs)[:, t], state, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_residual_adds_each_layers_input_to_its_output(cell):
    """Layer 2's output is its own recurrent output plus its input (layer 1's output); layer 1 has no skip."""
    x = np.random.rand(2, 3, 4).astype("float32")
    residual = RecurrentStack(cell=cell, units=4, num_layers=2, residual=True)
    plain = RecurrentStack(cell=cell, units=4, num_layers=2, residual=False)
    outputs, _ = residual(x)
    plain(x)
    plain.set_weights(residual.get_weights())
    plain_outputs, _ = plain(x)
    first_layer_output = np.asarray(residual.recurrent_layers[0](x)[0])  # the input of layer 2
    np.testing.assert_allclose(np.asarray(outputs) - np.asarray(plain_outputs), first_layer_output, atol=1e-5)
    second_layer_output = np.asarray(residual.recurrent_layers[1](first_layer_output)[0])
    np.testing.assert_allclose(np.asarray(outputs), second_layer_output + first_layer_output, atol=1e-5)
    assert np.abs(first_layer_output).max() > 1e-3  # the difference checked above is not trivially 0


def test_get_config_round_trip():
    """Every constructor argument (none at its default) survives get_config -> from_config."""
    arguments = dict(
        cell="simple",
        units=7,
        num_layers=3,
        bidirectional=True,
        dropout=0.1,
        activation="relu",
        residual=True,
        stateful=True,
    )
    core = RecurrentStack(**arguments)
    config = core.get_config()
    assert {key: config[key] for key in arguments} == arguments
    clone = RecurrentStack.from_config(config)
    assert {key: getattr(clone, key) for key in arguments} == arguments
    assert core_arguments(clone) == {key: arguments[key] for key in RNN_ARGUMENTS}
    assert set(RNN_ARGUMENTS) == set(arguments) - {"stateful"}


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`cell` must be one of"):
        RecurrentStack(cell="lstn")
    with pytest.raises(ValueError, match="`activation` must be one of"):
        RecurrentStack(cell="simple", activation="sigmoid")


@pytest.mark.parametrize("cell", CELLS)
def test_step_by_step_equals_the_whole_sequence(cell):
    core = RecurrentStack(cell=cell, units=5, num_layers=2, residual=True)
    x = np.random.rand(2, 4, 5).astype("float32")
    whole, whole_states = core(x)
    states = core.zero_state(2)
    for t in range(4):
        output, states = core.step(x[:, t], states)
        np.testing.assert_allclose(np.asarray(output), np.asarray(whole)[:, t], atol=1e-5)
    for step_layer, whole_layer in zip(states, whole_states):
        for a, b in zip(step_layer, whole_layer):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_a_step_with_part_of_the_input_projected_beforehand_is_the_same_step(cell):
    core = RecurrentStack(cell=cell, units=5, num_layers=2)
    x = np.random.rand(2, 3, 7).astype("float32")
    core(x)
    states = [[np.random.rand(2, 5).astype("float32") for _ in layer] for layer in core.zero_state(2)]
    expected, expected_states = core.step(x[:, 1], states)
    for split in (4, 7):  # the leading features projected for every step at once: some, or all of them
        product, rest = core.project_inputs(x[:, :, :split])
        output, new_states = core.step(x[:, 1, split:] if split < 7 else None, states, projected=(product[:, 1], rest))
        np.testing.assert_allclose(np.asarray(output), np.asarray(expected), atol=1e-5)
        for a, b in zip(sum(new_states, []), sum(expected_states, [])):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def test_step_dropout_masks_are_drawn_per_batch_only_when_training():
    core = RecurrentStack(cell="gru", units=4, num_layers=3, dropout=0.5)
    core(np.ones((2, 1, 4), "float32"))
    assert core.step_dropout_masks(2, training=False) is None
    masks = core.step_dropout_masks(2, training=True)
    assert len(masks) == 2 and tuple(masks[0].shape) == (2, 4)
    assert set(np.unique(np.asarray(masks[0]))) <= {0.0, 2.0}


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_core_runs_in_a_graph_of_unknown_batch_and_length(bidirectional):
    import tensorflow as tf

    core = RecurrentStack(cell="gru", units=4, num_layers=2, bidirectional=bidirectional)
    inputs = np.random.default_rng(1).normal(size=(2, 3, 4)).astype("float32")
    mask = np.array([[True, True, True], [True, False, False]])
    eager, _ = core(inputs, mask=mask)
    graph = tf.function(
        lambda x, m: core(x, mask=m)[0],
        input_signature=[tf.TensorSpec((None, None, 4)), tf.TensorSpec((None, None), tf.bool)],
    )
    np.testing.assert_allclose(np.asarray(graph(inputs, mask)), np.asarray(eager), rtol=1e-5, atol=1e-6)
