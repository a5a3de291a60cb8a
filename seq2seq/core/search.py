"""Decoding: greedy search, beam search with length penalty and n-best lists, sampling.

The one decoding path of the toolkit: translation, shallow fusion and
language-model generation all run through it. All three methods run as one
`keras.ops.while_loop` over output positions (no Python loop per step).
Each method is a start (the state before the first step), a steps function
(the loop, resumable from any state) and, for beam search, a result; the
plain functions run all steps in one loop. :class:`~seq2seq.core.searcher.Searcher`
wraps them in a Keras model whose `search` compiles them (and can drop
finished sentences between bursts of steps).

A model is searchable when it offers two methods:

- `encode(inputs) -> (context, carry, first_tokens)`: `context` is what every
  step reads and never changes (a translator's encoder memory; may hold None),
  `carry` the loop state, `first_tokens` int32 `(batch,)` the first input of
  each row (`<bos>`, or a prompt's last token);
- `decode_step(token_ids, carry, context) -> (log_probs (batch, vocab), carry)`.

Conventions: inputs are `(batch, input_len)` int, 0-padded; outputs are
token ids `(batch, [n_best,] max_length)` with `<eos>` included and 0
(`<pad>`) after it (with `eos_id=-1`, as in character-level generation,
nothing ends a row and `<eos>` is an ordinary token); scores are sums of
natural-log probabilities of the emitted tokens (`<eos>` included). No
search ever emits `<pad>` or `<bos>` (their probability is set to zero before
a token is chosen), so neither is fed back as an input mid-sequence.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from seq2seq.core.choices import MAX_OUTPUT_TOKENS
from seq2seq.core.specials import BOS_ID, PAD_ID

NEG_INF = -1e9


def max_target_length(source_len: int, ratio: float, offset: int) -> int:
    """The longest output allowed for sources of `source_len` tokens (in float32, as :func:`length_limit`).

    `ceil(ratio * source_len + offset)`, at least 1 and at most `MAX_OUTPUT_TOKENS`."""
    limit = np.ceil(np.float32(ratio) * np.float32(source_len) + np.float32(offset))
    return int(min(MAX_OUTPUT_TOKENS, max(1.0, limit)))


def length_limit(source_lengths, ratio, offset):
    """:func:`max_target_length` on tensors: `source_lengths` int (any shape); `ratio`, `offset` scalars."""
    limit = ops.ceil(ops.cast(source_lengths, "float32") * ops.cast(ratio, "float32") + ops.cast(offset, "float32"))
    return ops.cast(ops.clip(limit, 1.0, float(MAX_OUTPUT_TOKENS)), "int32")


def length_penalty(lengths, alpha: float):
    """Wu et al. (2016): ((5 + |Y|) / 6) ** alpha."""
    return ops.power((5.0 + ops.cast(lengths, "float32")) / 6.0, alpha)


def _gather(structure, indices):
    """Rows `indices` of every tensor in `structure`; None (no attention keys) stays None."""
    return keras.tree.map_structure(lambda x: None if x is None else ops.take(x, indices, axis=0), structure)


def _repeat(structure, times: int):
    """Each row of every tensor in `structure` repeated `times` times; None stays None."""
    return keras.tree.map_structure(lambda x: None if x is None else ops.repeat(x, times, axis=0), structure)


def never_emitted(log_probs):
    """`log_probs` `(..., vocab)` with `<pad>` and `<bos>` at NEG_INF: no search emits them."""
    ids = ops.arange(ops.shape(log_probs)[-1])
    return ops.where(ops.logical_or(ids == PAD_ID, ids == BOS_ID), NEG_INF, log_probs)


def token_ids(positions, vocabulary):
    """The token ids of `positions` in the step's distribution: themselves, or `vocabulary[positions]`.

    A state holds an int32 `vocabulary` when the model's output layers are
    restricted to those ids (see :func:`seq2seq.core.output.restricted`):
    `log_probs` then has one column per entry. It is sorted and holds the
    special ids 0-3, so they keep their columns (`never_emitted` still applies).
    """
    return positions if vocabulary is None else ops.take(vocabulary, positions, axis=0)


def sample(log_probs, uniform, temperature: float = 1.0, top_k: int | None = None):
    """One id per row drawn from softmax(log_probs / temperature), among the `top_k` most likely if set.

    Inverse-CDF sampling with `uniform` `(batch,)` numbers in [0, 1): the
    randomness is drawn before the decoding loop, so the loop itself is
    stateless (as JAX needs) and the same seed gives the same samples.
    Tokens of probability 0 are never drawn.
    """
    logits = log_probs / temperature  # (batch, vocab)
    if top_k is not None and top_k < ops.shape(logits)[-1]:
        kth = ops.top_k(logits, top_k)[0][:, -1:]  # (batch, 1): the k-th largest
        logits = ops.where(logits < kth, NEG_INF, logits)
    cdf = ops.cumsum(ops.softmax(logits, axis=-1), axis=-1)  # (batch, vocab)
    threshold = (1.0 - uniform[:, None]) * cdf[:, -1:]  # in (0, total]: never lands on a zero-probability token
    return ops.cast(ops.sum(ops.cast(cdf < threshold, "int32"), axis=-1), "int32")


def greedy_start(model, inputs, max_length, limits=None, sampling: bool = False, seed=None):
    """The state of greedy search (or sampling) before its first step, and the context every step reads.

    The state is a dict of tensors with one row per sentence (`t` aside):
    `t`, `tokens` `(batch, max_length)`, `previous`, `carry`, `finished`,
    `scores`, `limits` and, when sampling, `uniforms` `(max_length, batch)`
    (drawn before the loop, so the loop itself is stateless, as JAX needs).
    """
    context, carry, first = model.encode(inputs)
    batch = ops.shape(first)[0]
    limits = ops.full((batch,), max_length, "int32") if limits is None else ops.cast(limits, "int32")
    state = {
        "t": ops.convert_to_tensor(0, "int32"),
        "tokens": ops.zeros((batch, max_length), "int32"),
        "previous": first,
        "carry": carry,
        "finished": ops.zeros((batch,), "bool"),
        "scores": ops.zeros((batch,), "float32"),
        "limits": limits,
        "uniforms": keras.random.uniform((max_length, batch), seed=seed) if sampling else None,
    }
    return state, context


def greedy_steps(
    model, state, context, eos_id: int, steps, temperature: float | None = None, top_k: int | None = None
) -> dict:
    """Runs greedy search (or sampling) from `state` for at most `steps` more steps; returns the new state."""
    max_length = ops.shape(state["tokens"])[1]
    stop = ops.minimum(state["t"] + steps, max_length)
    limits, uniforms, vocabulary = state["limits"], state["uniforms"], state.get("vocabulary")

    def cond(t, tokens, previous, carry, finished, scores):
        return ops.logical_and(t < stop, ops.logical_not(ops.all(finished)))

    def body(t, tokens, previous, carry, finished, scores):
        log_probs, carry = model.decode_step(previous, carry, context)  # (batch, vocab)
        log_probs = never_emitted(log_probs)
        if uniforms is not None:
            chosen = sample(
                log_probs, ops.take(uniforms, t, axis=0), 1.0 if temperature is None else temperature, top_k
            )
        else:
            chosen = ops.cast(ops.argmax(log_probs, axis=-1), "int32")
        picked = ops.take_along_axis(log_probs, chosen[:, None], axis=-1)[:, 0]
        chosen = token_ids(chosen, vocabulary)
        chosen = ops.where(finished, ops.zeros_like(chosen), chosen)
        scores = scores + ops.where(finished, ops.zeros_like(picked), picked)
        tokens = ops.slice_update(tokens, [0, t], chosen[:, None])
        finished = ops.logical_or(finished, ops.logical_or(ops.equal(chosen, eos_id), t + 1 >= limits))
        return t + 1, tokens, chosen, carry, finished, scores

    names = ("t", "tokens", "previous", "carry", "finished", "scores")
    loop = ops.while_loop(cond, body, tuple(state[name] for name in names), maximum_iterations=steps)
    return {**state, **dict(zip(names, loop))}


def greedy_search(
    model,
    inputs,
    eos_id: int,
    max_length,
    temperature: float | None = None,
    top_k: int | None = None,
    seed=None,
    limits=None,
):
    """The most likely token at each step, or a sampled one when `temperature` or `top_k` is set.

    Args:
        max_length: the output buffer length (an int, or a scalar tensor on
            TensorFlow for one graph over every length).
        limits: optional int `(batch,)`: row i ends after `limits[i]` tokens
            (at most `max_length`); default `max_length` for every row.

    Returns:
        `(tokens (batch, max_length) int32, scores (batch,) float32)`.
    """
    sampling = temperature is not None or top_k is not None
    state, context = greedy_start(model, inputs, max_length, limits, sampling, seed)
    state = greedy_steps(model, state, context, eos_id, max_length, temperature, top_k)
    return state["tokens"], state["scores"]


def beam_start(model, inputs, max_length, beam_size=5, limits=None):
    """The state of beam search before its first step, and the context every step reads.

    `tokens` `(batch, beam, max_length)`, `finished`, `lengths` and `scores`
    `(batch, beam)` and `limits` `(batch,)` have one row per sentence;
    `previous`, `carry` and every tensor of `context` one per hypothesis
    (`batch * beam` rows, sentence-major).
    """
    context, carry, first = model.encode(inputs)
    batch = ops.shape(first)[0]
    limits = ops.full((batch,), max_length, "int32") if limits is None else ops.cast(limits, "int32")
    context, carry, first = _repeat((context, carry, first), beam_size)  # (batch * beam, ...)
    live = ops.concatenate([ops.zeros((1,)), ops.full((beam_size - 1,), NEG_INF)])
    state = {
        "t": ops.convert_to_tensor(0, "int32"),
        "tokens": ops.zeros((batch, beam_size, max_length), "int32"),
        "previous": first,
        "carry": carry,
        "finished": ops.zeros((batch, beam_size), "bool"),
        "lengths": ops.zeros((batch, beam_size), "int32"),
        "scores": ops.tile(live[None, :], (batch, 1)),  # only beam 0 is live at the start
        "limits": limits,
    }
    return state, context


def beam_steps(model, state, context, eos_id: int, steps, alpha=0.0, early_stop: bool = False) -> dict:
    """Runs beam search from `state` for at most `steps` more steps; returns the new state."""
    batch, beam_size, max_length = ops.shape(state["tokens"])
    stop = ops.minimum(state["t"] + steps, max_length)
    limits, vocabulary = state["limits"], state.get("vocabulary")
    offsets = ops.arange(batch, dtype="int32")[:, None] * beam_size

    def cond(t, tokens, previous, carry, finished, lengths, scores):
        return ops.logical_and(t < stop, ops.logical_not(ops.all(finished)))

    def body(t, tokens, previous, carry, finished, lengths, scores):
        log_probs, carry = model.decode_step(previous, carry, context)  # (batch*beam, vocab)
        vocab = ops.shape(log_probs)[-1]
        log_probs = ops.reshape(never_emitted(log_probs), (batch, beam_size, vocab))
        pad_only = ops.where(ops.arange(vocab) == PAD_ID, 0.0, NEG_INF)  # a finished beam only pads
        log_probs = ops.where(finished[..., None], pad_only[None, None, :], log_probs)
        total = ops.reshape(scores[..., None] + log_probs, (batch, beam_size * vocab))
        scores, best = ops.top_k(total, beam_size)  # (batch, beam)
        best = ops.cast(best, "int32")
        origin, chosen = best // vocab, token_ids(best % vocab, vocabulary)
        carry = _gather(carry, ops.reshape(origin + offsets, (-1,)))
        tokens = ops.take_along_axis(tokens, origin[..., None], axis=1)
        finished = ops.take_along_axis(finished, origin, axis=1)
        lengths = ops.take_along_axis(lengths, origin, axis=1) + ops.cast(ops.logical_not(finished), "int32")
        tokens = ops.slice_update(tokens, [0, 0, t], chosen[..., None])
        finished = ops.logical_or(finished, ops.logical_or(ops.equal(chosen, eos_id), (t + 1 >= limits)[:, None]))
        if early_stop:
            penalty = length_penalty(lengths, alpha)
            best_finished = ops.max(ops.where(finished, scores / penalty, NEG_INF), axis=1)  # (batch,)
            reachable = ops.maximum(penalty, length_penalty(limits, alpha)[:, None])  # the largest penalty ahead
            best_open = ops.max(ops.where(finished, NEG_INF, scores / reachable), axis=1)
            finished = ops.logical_or(finished, (best_finished >= best_open)[:, None])
        return t + 1, tokens, ops.reshape(chosen, (-1,)), carry, finished, lengths, scores

    names = ("t", "tokens", "previous", "carry", "finished", "lengths", "scores")
    loop = ops.while_loop(cond, body, tuple(state[name] for name in names), maximum_iterations=steps)
    return {**state, **dict(zip(names, loop))}


def beam_result(tokens, scores, lengths, alpha=0.0):
    """`(tokens, scores, normalized)` of finished beams, each sentence's best first by the normalized score."""
    normalized = scores / length_penalty(lengths, alpha)
    order = ops.argsort(-normalized, axis=-1)
    return (
        ops.take_along_axis(tokens, order[..., None], axis=1),
        ops.take_along_axis(scores, order, axis=1),
        ops.take_along_axis(normalized, order, axis=1),
    )


def beam_search(model, inputs, eos_id: int, max_length, beam_size=5, alpha=0.0, limits=None, early_stop: bool = False):
    """Beam search; hypotheses are ranked by score / length_penalty(length, alpha).

    A finished hypothesis stays in the beam with its score unchanged (it is
    extended only by padding at no cost), so it competes with the open ones
    until the end. `max_length`, `limits` as in :func:`greedy_search`; on
    TensorFlow `beam_size` and `alpha` may be scalar tensors too.

    With `early_stop`, a sentence stops as soon as no open hypothesis can
    still beat its best finished one: scores only fall as tokens are added,
    so an open hypothesis ends at best at `score / largest length penalty it
    can still reach` (at its length limit for alpha >= 0). The best
    hypothesis is the one the full search finds; the others of the n-best
    list may be cut short, so use it for the 1-best only.

    Returns:
        `(tokens (batch, beam, max_length), scores (batch, beam), normalized (batch, beam))`,
        best first by the normalized score.
    """
    state, context = beam_start(model, inputs, max_length, beam_size, limits)
    state = beam_steps(model, state, context, eos_id, max_length, alpha, early_stop)
    return beam_result(state["tokens"], state["scores"], state["lengths"], alpha)
