"""Search in reduced precision: bfloat16 copies of the matrices that each decoding step multiplies by.

A decoding step on a CPU is dominated by matrix products of float32 weights
(the output projection, the decoder's LSTM). CPUs with AMX multiply bfloat16
matrices several times faster (on a 2-core Intel Xeon with AMX, a
240 x 512 by 512 x 8,000 product took 8.7 ms in float32 and 2.7 ms in
bfloat16; beam search as a whole ran 1.28-1.32 x faster:
bench/results/issue13_speed.txt). Casting the weights at every step
would cost as much as it saves, so :func:`snapshot` casts them once, and
layers multiply through :func:`matmul`, which uses the copy while
:func:`using` is active (only the activations are cast per step; products come
back in float32, and everything else, the LSTM's gates and cell state, the
softmax and the scores, stays float32). Two layers do: the output layer
(:class:`~seq2seq.core.output.OutputProjection`) and LSTM layers stepped by
:meth:`~seq2seq.core.recurrent.RecurrentStack.step` (the decoder's; GRU and
simple cells, the encoder and the attention keep float32 products).

Outputs then differ slightly from float32 search (a tie between hypotheses
may go the other way); `seq2seq translate --precision bfloat16` is a choice,
never the default, so that every machine gives the same translations.
Training never uses this: its mixed precision is `training.mixed_precision`.
"""

from __future__ import annotations

import contextlib
import threading

from keras import ops

from seq2seq.core.choices import SEARCH_PRECISIONS as PRECISIONS

_active = threading.local()


def snapshot(model, dtype: str) -> dict:
    """`{id(variable): copy in dtype}` of every float32 matrix (2-D weight) of `model`; empty for float32.

    The copies are taken now: after changing the weights, take a new snapshot.
    """
    if dtype not in PRECISIONS:
        raise ValueError(f"`dtype` must be one of {PRECISIONS}. Received: dtype={dtype!r}")
    if dtype == "float32":
        return {}
    return {
        id(variable): ops.cast(variable, dtype)
        for variable in model.weights
        if len(variable.shape) == 2 and variable.dtype == "float32"
    }


@contextlib.contextmanager
def using(copies: dict):
    """While active (in this thread), :func:`matmul` multiplies by the copies in `copies`."""
    previous = getattr(_active, "copies", {})
    _active.copies = copies
    try:
        yield
    finally:
        _active.copies = previous


def reduced(variable) -> bool:
    """Whether :func:`matmul` would use a reduced-precision copy of `variable` now."""
    return id(variable) in getattr(_active, "copies", {})


def current(variable):
    """The reduced-precision copy of `variable` while one is active (see :func:`using`), else `variable`."""
    return getattr(_active, "copies", {}).get(id(variable), variable)


def matmul(x, variable, transpose: bool = False):
    """`x @ variable` (`variable` transposed with `transpose`) in x's dtype.

    With a copy of `variable` active (see :func:`using`), x is cast to the
    copy's dtype for the product, which comes back in x's dtype.
    """
    copy = getattr(_active, "copies", {}).get(id(variable))
    if copy is None:
        matrix = ops.cast(variable, x.dtype)
        return ops.matmul(x, ops.transpose(matrix) if transpose else matrix)
    low = ops.cast(x, copy.dtype)
    product = ops.einsum("...d,vd->...v", low, copy) if transpose else ops.matmul(low, copy)
    return ops.cast(product, x.dtype)
