"""Lexically constrained beam search: dynamic beam allocation (Post & Vilar 2018), in one compiled loop.

Each sentence may carry constraints: token sequences that must appear in
its output, each once, in any order (a glossary's target terms, see
:mod:`seq2seq.translation.glossary`). A hypothesis keeps, for each
constraint, whether it is met, and which one it is part-way through and how
far (`current`, `progress`): a token that continues that constraint
advances it, a token that starts an unmet one begins it, any other token
abandons the part made (it must start again).

At each step every hypothesis offers its `beam` best next tokens and the
next token of each unmet constraint; each candidate falls into the bank of
its number of constraint tokens met (a finished constraint counts its
length, a part-made one its progress). The beam is shared among the banks
by turns: the best candidate of each bank from the fullest bank down, then
the second best of each, and so on, so hypotheses that have met more of
their constraints survive beside better-scoring ones that have met fewer,
without a separate beam per bank (Post & Vilar's allocation, with the
left-over slots of thin banks going to the others in the same turns). A
hypothesis may end (`<eos>`) only when all its constraints are met; one
that reaches its length limit ends anyway, and finished hypotheses that
meet every constraint rank before those that do not.

The state is beam search's (see :func:`~seq2seq.core.search.beam_start`)
and, per sentence: `constraints` int32 `(batch, terms, term_len)` token ids,
0-padded, and `constraint_lengths` `(batch, terms)` (0: an empty slot);
per hypothesis: `met` `(batch, beam, terms)`, `current` and `progress`
`(batch, beam)` (`current` -1: none begun).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from seq2seq.core.search import NEG_INF, _gather, beam_start, length_penalty, never_emitted
from seq2seq.core.specials import PAD_ID

# Banks are compared as rank * BANK_TURN - bank, so a sentence's constraints may hold fewer tokens than this.
BANK_TURN = 4096
# Ranks finished hypotheses that miss a constraint after those that meet them all (scores are far above -1e5).
UNMET_PENALTY = 1e5


def constrained_start(
    model, inputs, constraints, constraint_lengths, max_length, beam_size=5, limits=None, continuations=None
):
    """Beam search's start state with the constraints and each hypothesis' progress on them (see the module).

    `continuations`: optional bool `(vocab,)`, the tokens that continue a
    word (subwords without a word-start mark): none may follow a finished
    term, so a forced "dog" does not become "dogs"."""
    state, context = beam_start(model, inputs, max_length, beam_size, limits)
    constraints = ops.cast(constraints, "int32")
    constraint_lengths = ops.cast(constraint_lengths, "int32")
    batch, terms = ops.shape(constraint_lengths)
    state.update(
        constraints=constraints,
        constraint_lengths=constraint_lengths,
        met=ops.zeros((batch, beam_size, terms), "bool"),
        current=ops.full((batch, beam_size), -1, "int32"),
        progress=ops.zeros((batch, beam_size), "int32"),
        ended=ops.zeros((batch, beam_size), "bool"),  # the last token finished a term
    )
    if continuations is not None:
        state["continuations"] = ops.cast(continuations, "bool")
    return state, context


def _advance(constraints, lengths, met, current, progress, token):
    """The constraint state after `token` for each candidate: all `(batch, n[, terms])` but `constraints`,
    `lengths` (per sentence). Returns `(met, current, progress, tokens met, whether a term just ended)`."""
    terms = ops.shape(lengths)[1]
    term_len = ops.shape(constraints)[2]
    flat = ops.reshape(constraints, (ops.shape(constraints)[0], terms * term_len))  # (batch, terms * term_len)
    expected = ops.take_along_axis(flat, ops.maximum(current, 0) * term_len + ops.minimum(progress, term_len - 1), 1)
    continues = ops.logical_and(current >= 0, ops.equal(token, expected))  # (batch, n)
    open_terms = ops.logical_and(ops.logical_not(met), (lengths > 0)[:, None, :])  # (batch, n, terms)
    starts = ops.logical_and(open_terms, ops.equal(constraints[:, None, :, 0], token[..., None]))
    any_start = ops.any(starts, axis=-1)
    first_start = ops.cast(ops.argmax(ops.cast(starts, "int32"), axis=-1), "int32")
    current = ops.where(continues, current, ops.where(any_start, first_start, -1))
    progress = ops.where(continues, progress + 1, ops.where(any_start, 1, 0))
    length_of_current = ops.take_along_axis(lengths, ops.maximum(current, 0), 1)  # (batch, n)
    completed = ops.logical_and(current >= 0, ops.equal(progress, length_of_current))
    which = ops.equal(ops.arange(terms)[None, None, :], current[..., None])  # (batch, n, terms)
    met = ops.logical_or(met, ops.logical_and(which, completed[..., None]))
    current = ops.where(completed, -1, current)
    progress = ops.where(completed, 0, progress)
    tokens_met = ops.sum(ops.where(met, lengths[:, None, :], 0), axis=-1) + progress
    return met, current, progress, tokens_met, completed


def _all_met(met, lengths):
    """`(batch, n)`: every non-empty constraint met."""
    return ops.all(ops.logical_or(met, (lengths == 0)[:, None, :]), axis=-1)


def constrained_steps(model, state, context, eos_id: int, steps) -> dict:
    """Runs constrained beam search from `state` for at most `steps` more steps; returns the new state."""
    batch, beam_size, max_length = ops.shape(state["tokens"])
    stop = ops.minimum(state["t"] + steps, max_length)
    limits, constraints, lengths = state["limits"], state["constraints"], state["constraint_lengths"]
    terms = ops.shape(lengths)[1]
    offsets = ops.arange(batch, dtype="int32")[:, None] * beam_size
    continuations = state.get("continuations")
    names = ("t", "tokens", "previous", "carry", "finished", "lengths", "scores", "met", "current", "progress", "ended")

    def cond(t, tokens, previous, carry, finished, out_lengths, scores, met, current, progress, ended):
        return ops.logical_and(t < stop, ops.logical_not(ops.all(finished)))

    def body(t, tokens, previous, carry, finished, out_lengths, scores, met, current, progress, ended):
        log_probs, carry = model.decode_step(previous, carry, context)  # (batch*beam, vocab)
        vocab = ops.shape(log_probs)[-1]
        log_probs = ops.reshape(never_emitted(log_probs), (batch, beam_size, vocab))
        may_end = _all_met(met, lengths)  # (batch, beam): <eos> only once every constraint is met
        ids = ops.arange(vocab)[None, None, :]
        log_probs = ops.where(ops.logical_and(ids == eos_id, ops.logical_not(may_end)[..., None]), NEG_INF, log_probs)
        if continuations is not None:  # a finished term is a whole word
            cut = ops.logical_and(ended[..., None], continuations[None, None, :])
            log_probs = ops.where(cut, NEG_INF, log_probs)
        pad_only = ops.where(ops.arange(vocab) == PAD_ID, 0.0, NEG_INF)  # a finished beam only pads
        log_probs = ops.where(finished[..., None], pad_only[None, None, :], log_probs)
        total = scores[..., None] + log_probs  # (batch, beam, vocab)

        # candidates: each hypothesis' best tokens, and the next token of each of its constraints
        best_scores, best_tokens = ops.top_k(total, beam_size)  # (batch, beam, beam)
        best_tokens = ops.cast(best_tokens, "int32")
        term_len = ops.shape(constraints)[2]
        flat = ops.reshape(constraints, (batch, 1, terms * term_len))
        position = ops.where(ops.arange(terms)[None, None, :] == current[..., None], progress[..., None], 0)
        wanted = ops.take_along_axis(
            ops.repeat(flat, beam_size, axis=1), ops.arange(terms)[None, None, :] * term_len + position, 2
        )  # (batch, beam, terms)
        wanted_scores = ops.take_along_axis(total, wanted, 2)
        usable = ops.logical_and(ops.logical_not(met), (lengths > 0)[:, None, :])
        usable = ops.logical_and(usable, ops.logical_not(finished)[..., None])
        in_best = ops.any(ops.equal(wanted[..., None], best_tokens[:, :, None, :]), axis=-1)
        earlier = ops.arange(terms)[None, :] < ops.arange(terms)[:, None]  # (terms, terms): j before i
        repeated = ops.any(
            ops.logical_and(
                ops.logical_and(ops.equal(wanted[..., :, None], wanted[..., None, :]), usable[..., None, :]),
                earlier[None, None],
            ),
            axis=-1,
        )
        usable = ops.logical_and(usable, ops.logical_not(ops.logical_or(in_best, repeated)))
        wanted_scores = ops.where(usable, wanted_scores, NEG_INF)
        origins = ops.broadcast_to(ops.arange(beam_size, dtype="int32")[None, :, None], (batch, beam_size, 1))
        cand_tokens = ops.concatenate([ops.reshape(best_tokens, (batch, -1)), ops.reshape(wanted, (batch, -1))], 1)
        cand_scores = ops.concatenate(
            [ops.reshape(best_scores, (batch, -1)), ops.reshape(wanted_scores, (batch, -1))], 1
        )
        cand_origins = ops.concatenate(
            [
                ops.reshape(ops.repeat(origins, beam_size, axis=2), (batch, -1)),
                ops.reshape(ops.repeat(origins, terms, axis=2), (batch, -1)),
            ],
            1,
        )  # (batch, candidates)
        take = lambda x: ops.take_along_axis(x, cand_origins, 1)  # noqa: E731
        cand_met = ops.take_along_axis(met, ops.repeat(cand_origins[..., None], terms, axis=2), 1)
        was_finished = take(finished)
        new_met, new_current, new_progress, banks, new_ended = _advance(
            constraints, lengths, cand_met, take(current), take(progress), cand_tokens
        )
        new_met = ops.where(was_finished[..., None], cand_met, new_met)  # padding changes nothing
        new_current = ops.where(was_finished, take(current), new_current)
        new_progress = ops.where(was_finished, take(progress), new_progress)
        new_ended = ops.logical_and(new_ended, ops.logical_not(was_finished))
        banks = ops.where(
            was_finished, ops.sum(ops.where(cand_met, lengths[:, None, :], 0), axis=-1) + take(progress), banks
        )

        # dynamic beam allocation: turns over the banks, fullest bank first in each turn
        valid = cand_scores > NEG_INF / 2
        count = ops.shape(cand_scores)[1]
        index = ops.arange(count)
        better = ops.logical_or(
            cand_scores[:, None, :] > cand_scores[:, :, None],
            ops.logical_and(
                ops.equal(cand_scores[:, None, :], cand_scores[:, :, None]), index[None, None, :] < index[None, :, None]
            ),
        )  # (batch, i, j): j ranks before i
        same_bank = ops.equal(banks[:, None, :], banks[:, :, None])
        rank = ops.sum(ops.cast(ops.logical_and(ops.logical_and(better, same_bank), valid[:, None, :]), "int32"), -1)
        turn = ops.cast(rank * BANK_TURN - banks, "float32")
        turn = ops.where(valid, -turn, NEG_INF)
        _, chosen = ops.top_k(turn, beam_size)  # (batch, beam)
        chosen = ops.cast(chosen, "int32")
        pick = lambda x: ops.take_along_axis(x, chosen, 1)  # noqa: E731
        origin, token, scores = pick(cand_origins), pick(cand_tokens), pick(cand_scores)
        met = ops.take_along_axis(new_met, ops.repeat(chosen[..., None], terms, axis=2), 1)
        current, progress, ended = pick(new_current), pick(new_progress), pick(new_ended)

        carry = _gather(carry, ops.reshape(origin + offsets, (-1,)))
        tokens = ops.take_along_axis(tokens, origin[..., None], axis=1)
        finished = ops.take_along_axis(finished, origin, axis=1)
        out_lengths = ops.take_along_axis(out_lengths, origin, axis=1) + ops.cast(ops.logical_not(finished), "int32")
        tokens = ops.slice_update(tokens, [0, 0, t], token[..., None])
        finished = ops.logical_or(finished, ops.logical_or(ops.equal(token, eos_id), (t + 1 >= limits)[:, None]))
        previous = ops.reshape(token, (-1,))
        return t + 1, tokens, previous, carry, finished, out_lengths, scores, met, current, progress, ended

    loop = ops.while_loop(cond, body, tuple(state[name] for name in names), maximum_iterations=steps)
    return {**state, **dict(zip(names, loop))}


def constrained_result(state, alpha=0.0):
    """`(tokens, scores, normalized, all met)` of finished beams: those meeting every constraint first, each
    group best first by the normalized score."""
    normalized = state["scores"] / length_penalty(state["lengths"], alpha)
    satisfied = _all_met(state["met"], state["constraint_lengths"])  # (batch, beam)
    order = ops.argsort(-(normalized - ops.where(satisfied, 0.0, UNMET_PENALTY)), axis=-1)
    pick = lambda x: ops.take_along_axis(x, order, axis=1)  # noqa: E731
    return (
        ops.take_along_axis(state["tokens"], order[..., None], axis=1),
        pick(state["scores"]),
        pick(normalized),
        pick(satisfied),
    )


def term_arrays(rows: list[list[list[int]]]) -> tuple[np.ndarray, np.ndarray]:
    """`(ids (rows, terms, term_len), lengths (rows, terms))` of each row's terms, 0-padded (the `constraints` of
    :meth:`~seq2seq.core.searcher.Searcher.search`)."""
    terms = max(1, max(len(row) for row in rows))
    width = max([1] + [len(term) for row in rows for term in row])
    ids, lengths = np.zeros((len(rows), terms, width), "int32"), np.zeros((len(rows), terms), "int32")
    for r, row in enumerate(rows):
        for c, term in enumerate(row):
            ids[r, c, : len(term)], lengths[r, c] = term, len(term)
    return ids, lengths
