"""The recurrent core shared by the language model, the encoder and the decoder: `RecurrentStack`."""

from __future__ import annotations

import keras
from keras import layers, ops

from seq2seq.core import precision
from seq2seq.core.choices import ACTIVATIONS, CELLS

# The architecture arguments of RecurrentStack: the fields of `seq2seq.config.RNNConfig`.
RNN_ARGUMENTS = ("cell", "units", "num_layers", "bidirectional", "dropout", "activation", "residual")


def core_arguments(core: RecurrentStack) -> dict:
    """The architecture arguments a `RecurrentStack` was built with (for its owner's `get_config`)."""
    config = core.get_config()
    return {key: config[key] for key in RNN_ARGUMENTS}


def _cell_step(kind: str, cell, product, states):
    """One step of a Keras cell of `kind` from its input product `product` = inputs·kernel (no bias).

    Keras' equations (LSTM with fused gates i, f, c, o; GRU with `reset_after`),
    no dropout, the recurrent product through :func:`precision.matmul` (a
    reduced-precision copy where one is active). For
    :meth:`RecurrentStack.step`, whose callers may compute part of the input
    product beforehand.
    """
    h = states[0]
    recurrent = precision.matmul(h, cell.recurrent_kernel)
    bias = ops.cast(cell.bias, product.dtype) if cell.use_bias else None
    if kind == "lstm":
        z = product + recurrent
        if bias is not None:
            z = z + bias
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = cell.recurrent_activation(f) * states[1] + cell.recurrent_activation(i) * cell.activation(g)
        h = cell.recurrent_activation(o) * cell.activation(c)
        return h, [h, c]
    if kind == "gru":
        if bias is not None:
            product, recurrent = product + bias[0], recurrent + bias[1]
        x_z, x_r, x_h = ops.split(product, 3, axis=-1)
        r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
        z = cell.recurrent_activation(x_z + r_z)
        candidate = cell.activation(x_h + cell.recurrent_activation(x_r + r_r) * r_h)
        h = z * h + (1 - z) * candidate
        return h, [h]
    z = product + recurrent
    h = cell.activation(z if bias is None else z + bias)
    return h, [h]


@keras.saving.register_keras_serializable(package="seq2seq")
class RecurrentStack(layers.Layer):
    """A stack of Keras `SimpleRNN`, `LSTM` or `GRU` layers, optionally bidirectional.

    With `cell="simple"` and one layer this is Elman's network,
    s_t = f(U·x_t + W·s_{t-1}); a softmax on top (in the model) gives
    o_t = softmax(V·s_t) (Mikolov et al. 2010). LSTM and GRU layers keep the
    default activations, `recurrent_dropout=0`, `unroll=False`, `use_bias=True`
    (and `reset_after=True` for GRU), the arguments that keep the cuDNN kernel
    eligible on a GPU. Dropout is applied between layers only, on the
    non-recurrent connections (Zaremba et al. 2014).

    Args:
        cell: one of "simple", "lstm", "gru".
        units: hidden units per layer and direction.
        num_layers: how many layers are stacked.
        bidirectional: run each layer in both directions and concatenate
            (outputs have `2 * units` features).
        dropout: dropout rate between stacked layers.
        activation: "tanh" or "relu"; used by `cell="simple"` only.
        residual: add each layer's input to its output from the second layer on.
        stateful: carry the final states of one batch into the next (for
            truncated back-propagation through time over a token stream);
            needs a fixed batch size.

    Call arguments:
        inputs: float tensor `(batch, time, features)`.
        mask: optional boolean tensor `(batch, time)`; padded steps are skipped
            and do not change the state.
        initial_state: optional list with one entry per layer, each the list of
            state tensors that layer returns (see below).
        training: whether dropout is active.

    Returns:
        `(outputs, states)`: `outputs` is `(batch, time, units)` (or
        `2 * units` when bidirectional); `states` has one list per layer:
        `[h]` for simple and GRU, `[h, c]` for LSTM, each `(batch, units)`, with
        the forward states followed by the backward ones when bidirectional.

    Example:
        >>> core = RecurrentStack(cell="gru", units=8, num_layers=2)
        >>> outputs, states = core(keras.ops.ones((3, 5, 4)))
        >>> tuple(outputs.shape), len(states)
        ((3, 5, 8), 2)
    """

    def __init__(
        self,
        cell: str = "lstm",
        units: int = 256,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        activation: str = "tanh",
        residual: bool = False,
        stateful: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"`cell` must be one of {CELLS}. Received: cell={cell!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {ACTIVATIONS}. Received: activation={activation!r}")
        if num_layers < 1 or units < 1:
            raise ValueError(
                f"`num_layers` and `units` must be at least 1. Received: num_layers={num_layers}, units={units}"
            )
        self.cell = cell
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.activation = activation
        self.residual = residual
        self.stateful = stateful
        self.supports_masking = True
        self.recurrent_layers = [self._make_layer(index) for index in range(num_layers)]
        self.dropout_layers = [
            layers.Dropout(dropout, name=f"dropout_{index}", dtype=self.dtype_policy) for index in range(1, num_layers)
        ]

    @property
    def states_per_layer(self) -> int:
        """How many state tensors each layer returns."""
        return (2 if self.cell == "lstm" else 1) * (2 if self.bidirectional else 1)

    @property
    def output_units(self) -> int:
        return self.units * (2 if self.bidirectional else 1)

    def _make_layer(self, index: int) -> layers.Layer:
        common = dict(
            units=self.units, return_sequences=True, return_state=True, stateful=self.stateful, dtype=self.dtype_policy
        )
        if self.cell == "simple":
            layer = layers.SimpleRNN(activation=self.activation, name=f"simple_rnn_{index}", **common)
        elif self.cell == "lstm":
            layer = layers.LSTM(name=f"lstm_{index}", **common)
        else:
            layer = layers.GRU(reset_after=True, name=f"gru_{index}", **common)
        if self.bidirectional:
            layer = layers.Bidirectional(
                layer, merge_mode="concat", name=f"bidirectional_{index}", dtype=self.dtype_policy
            )
        return layer

    def build(self, input_shape):
        shape = tuple(input_shape)
        for index, layer in enumerate(self.recurrent_layers):
            if not layer.built:
                layer.build(shape)
            if index > 0:
                self.dropout_layers[index - 1].build(shape)
            shape = shape[:-1] + (self.output_units,)
        self.built = True

    def call(self, inputs, mask=None, initial_state=None, training=None):
        outputs = inputs
        states = []
        for index, layer in enumerate(self.recurrent_layers):
            layer_input = outputs
            if index > 0:
                layer_input = self.dropout_layers[index - 1](layer_input, training=training)
            layer_state = None if initial_state is None else list(initial_state[index])
            result = layer(layer_input, mask=mask, initial_state=layer_state, training=training)
            outputs, layer_states = result[0], list(result[1:])
            if self.residual and index > 0:
                outputs = outputs + layer_input  # (batch, time, output_units)
            states.append(layer_states)
        return outputs, states

    def step_dropout_masks(self, batch_size, training=None) -> list | None:
        """Per-sequence dropout masks for :meth:`step`, one per layer after the first.

        Drawn once per batch and reused at every step (variational dropout, Gal &
        Ghahramani 2016), so no random state changes inside a compiled loop.
        Returns None when dropout is off.
        """
        if not training or self.dropout == 0.0 or self.num_layers == 1:
            return None
        ones = ops.ones((batch_size, self.output_units), dtype=self.compute_dtype)
        return [keras.random.dropout(ones, self.dropout, seed=layer.seed_generator) for layer in self.dropout_layers]

    def project_inputs(self, inputs) -> tuple:
        """The first layer's input product for the leading features of its input, for :meth:`step`.

        A decoder whose step input is `[y_{t-1}; extra]` computes the
        `y_{t-1}` part for the whole sequence at once, as one large matrix
        product outside its time loop, and passes step t's product to
        :meth:`step` as `projected`, with only `extra` as the inputs.

        Args:
            inputs: `(..., features)`, the leading `features` of the first layer's input.

        Returns:
            `(product, rest)`: `product` `(..., gates)` is `inputs` times those
            rows of the first layer's kernel (no bias: :meth:`step` adds it);
            `rest` is the kernel's other rows, taken here once, outside the
            caller's loop (a slice inside it would cost a kernel-sized
            gradient at every step).
        """
        kernel = self.recurrent_layers[0].cell.kernel
        features = ops.shape(inputs)[-1]
        return precision.matmul(inputs, kernel[:features]), ops.cast(kernel[features:], inputs.dtype)

    def step(self, inputs, states, training=None, dropout_masks=None, projected=None):
        """One time step through every layer, with the layers' own weights.

        The same weights as :meth:`call`, for decoders that must compute each
        step's input from the previous step (attention, input feeding, search).
        In inference with reduced-precision copies of an LSTM's matrices active
        (:mod:`seq2seq.core.precision`), its two products use them; its gates
        and states stay in the compute dtype.

        Args:
            inputs: `(batch, features)`; with `projected`, the trailing
                features of the first layer's input only (or None when
                `projected` covers all of it).
            states: as returned by :meth:`call`.
            dropout_masks: from :meth:`step_dropout_masks`; between-layer
                dropout is applied only through these.
            projected: `(product, rest)` from :meth:`project_inputs`, with
                this step's `(batch, gates)` slice of the product; or None.

        Returns:
            `(outputs, states)` with outputs `(batch, units)`.
        """
        if self.bidirectional:
            raise ValueError("`step` needs a unidirectional stack; a bidirectional layer must see the whole sequence.")
        outputs = inputs
        new_states = []
        for index, layer in enumerate(self.recurrent_layers):
            layer_input = outputs
            if index > 0 and dropout_masks is not None:
                layer_input = layer_input * dropout_masks[index - 1]
            layer_states = list(states[index])
            cell = layer.cell
            if index == 0 and projected is not None:
                product, rest = projected
                if layer_input is not None:
                    product = product + ops.matmul(layer_input, rest)
                outputs, layer_states = _cell_step(self.cell, cell, product, layer_states)
            elif self.cell == "lstm" and not training and precision.reduced(cell.kernel):
                outputs, layer_states = _cell_step(
                    "lstm", cell, precision.matmul(layer_input, cell.kernel), layer_states
                )
            else:
                outputs, layer_states = cell(layer_input, layer_states, training=training)
            if self.residual and index > 0:
                outputs = outputs + layer_input  # (batch, output_units)
            new_states.append(list(layer_states) if isinstance(layer_states, (list, tuple)) else [layer_states])
        return outputs, new_states

    def zero_state(self, batch_size) -> list:
        """All-zero states for `batch_size` sequences, in the layout :meth:`call` returns."""
        zeros = ops.zeros((batch_size, self.units), dtype=self.compute_dtype)
        return [[zeros] * self.states_per_layer for _ in range(self.num_layers)]

    def compute_mask(self, inputs, mask=None):
        return mask

    def reset_states(self) -> None:
        """Zeroes the carried states of a stateful stack."""
        for layer in self.recurrent_layers:
            if isinstance(layer, layers.Bidirectional):
                layer.forward_layer.reset_state()
                layer.backward_layer.reset_state()
            else:
                layer.reset_state()

    def get_config(self):
        config = super().get_config()
        config.update(
            cell=self.cell,
            units=self.units,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            activation=self.activation,
            residual=self.residual,
            stateful=self.stateful,
        )
        return config
