"""`Searcher`: a decoding method of :mod:`seq2seq.core.search` around a searchable model, compiled.

On TensorFlow, `search` compiles its start and its steps once for every
batch shape and runs the steps in bursts of about a quarter of a second
(`BURST_SECONDS`), so a pending Ctrl-C or SIGTERM is handled between bursts
however long the search is (a signal handler cannot run inside one compiled
call). With `compact_every`, the bursts are that many steps long and, between
them, the sentences whose hypotheses have all finished leave the batch, so the
remaining steps compute only for the sentences still open. On JAX,
`predict_on_batch` (one `jax.jit` per shape) runs the whole loop.
"""

from __future__ import annotations

import time

import keras
import numpy as np
from keras import ops

from seq2seq.core import output
from seq2seq.core import precision as reduced_precision
from seq2seq.core.choices import MAX_OUTPUT_TOKENS
from seq2seq.core.constraints import constrained_result, constrained_start, constrained_steps
from seq2seq.core.search import (
    _gather,
    beam_result,
    beam_start,
    beam_steps,
    greedy_start,
    greedy_steps,
    length_limit,
    max_target_length,
)
from seq2seq.core.specials import PAD_ID

# Aimed length of one compiled burst of steps: signals are handled between bursts.
BURST_SECONDS = 0.25
# The first burst's steps (then scaled to last about BURST_SECONDS) and the most one burst may take.
FIRST_BURST, MAX_BURST = 8, 4096
# State entries with one row per sentence (the others, and the context, have one per hypothesis).
SENTENCE_ROWS = (
    "tokens",
    "finished",
    "lengths",
    "scores",
    "limits",
    "constraints",
    "constraint_lengths",
    "met",
    "current",
    "progress",
    "ended",
)
# What `result` reads of a finished sentence (greedy state has no lengths).
RESULT_ROWS = ("tokens", "lengths", "scores", "met", "constraint_lengths")
# State entries of the whole batch, kept whole when finished sentences leave it.
BATCH_ENTRIES = ("t", "vocabulary", "continuations")


class Searcher(keras.Model):
    """A decoding method around a searchable model (see :mod:`seq2seq.core.search`), compiled by `search`.

    Not a saved object (and not registered for serialization): it holds a
    model, compiled functions and a shortlist. Save the model; make the
    Searcher again after loading it.

    Args:
        model: a searchable model, e.g. :class:`~seq2seq.models.encoder_decoder.Seq2SeqModel`
            (weights shared, not copied).
        eos_id: the id that ends a hypothesis (-1: none does; outputs run to the length limit).
        beam_size: 1 for greedy search (or sampling); more for beam search.
        alpha: length-penalty exponent (beam search).
        max_length: a fixed output length limit (at most `MAX_OUTPUT_TOKENS`); when None, each row's output
            stops at `ceil(max_length_ratio * source_len + max_length_offset)`
            tokens, `source_len` being the row's non-padding tokens (so the
            result does not depend on the batch it is in).
        temperature, top_k: sample instead of searching (beam size 1 only);
            `top_k` keeps the K most likely tokens at each step.
        seed: sampling seed; the same seed gives the same samples.
        early_stop: beam search stops each sentence once its best hypothesis
            is certain (see :func:`~seq2seq.core.search.beam_search`); for 1-best output.
        input_spec: `(shape, dtype)` of the inputs when they are not int
            token ids, e.g. `((None, None, 40), "float32")` for audio frames
            (with a fixed `max_length`): `search` then compiles one graph for
            every input of that spec.
        compact_every: on TensorFlow, run `search` in bursts of this many
            steps and drop finished sentences between them (None: one loop).
            Rows do not interact, so the outputs are those of one loop (up to
            the last bit of a matrix product over fewer rows). Not with
            sampling, whose random numbers are laid out per batch row.
        compact_multiple: with `compact_every`, a batch shrinks only to a
            multiple of this many sentences (finished ones fill it up), so
            fewer distinct shapes reach the kernels: each shape costs memory
            that is not given back (oneDNN primitives and allocator pools).
        precision: "float32", or "bfloat16": the steps multiply by bfloat16
            copies of the model's matrices, taken now (see
            :mod:`seq2seq.core.precision`; faster on CPUs with AMX, outputs
            slightly different). Make a new Searcher after changing the weights.
        shortlist: an object whose `candidates(inputs)` gives the sorted int32
            ids (the specials 0-3 among them) that each batch's search may
            emit, e.g. a :class:`~seq2seq.translation.shortlist.Shortlist`:
            the output layers then compute only those logits, and the softmax
            normalises over them (TensorFlow only: the number of ids depends
            on the batch). None: the whole vocabulary.

    Call arguments:
        inputs: int `(batch, input_len)` (a padded source, or a prompt).

    Returns:
        dict with `tokens` `(batch, beam, max_length)`, `scores` and
        `normalized_scores` `(batch, beam)` (beam is 1 for greedy search).
    """

    def __init__(
        self,
        model,
        eos_id: int,
        beam_size: int = 1,
        alpha: float = 0.0,
        max_length: int | None = None,
        max_length_ratio: float = 1.5,
        max_length_offset: int = 10,
        temperature: float | None = None,
        top_k: int | None = None,
        seed: int | None = None,
        early_stop: bool = False,
        input_spec: tuple | None = None,
        compact_every: int | None = None,
        compact_multiple: int = 1,
        precision: str = "float32",
        shortlist=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        sampling = temperature is not None or top_k is not None
        if temperature is not None and not temperature > 0:
            raise ValueError(f"`temperature` must be above 0. Received: temperature={temperature}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"`top_k` must be at least 1. Received: top_k={top_k}")
        if sampling and beam_size != 1:
            raise ValueError(f"sampling (temperature or top_k) needs beam_size=1. Received: beam_size={beam_size}")
        if max_length is not None and not 1 <= max_length <= MAX_OUTPUT_TOKENS:
            raise ValueError(f"`max_length` must be 1 to {MAX_OUTPUT_TOKENS:,}. Received: max_length={max_length}")
        if compact_multiple < 1:
            raise ValueError(f"`compact_multiple` must be at least 1. Received: compact_multiple={compact_multiple}")
        if compact_every is not None and (sampling or compact_every < 1):
            raise ValueError(
                "`compact_every` must be at least 1, and sampling runs in one loop. "
                f"Received: compact_every={compact_every}, temperature={temperature}, top_k={top_k}"
            )
        if shortlist is not None and keras.backend.backend() != "tensorflow":
            raise ValueError(
                "a `shortlist` needs the TensorFlow backend: its size depends on the batch, "
                f"which {keras.backend.backend()} cannot compile. Received: a shortlist"
            )
        self.model = model
        self.shortlist = shortlist
        self.eos_id = eos_id
        self.beam_size, self.alpha = beam_size, alpha
        self.max_length = max_length
        self.max_length_ratio, self.max_length_offset = max_length_ratio, max_length_offset
        self.temperature, self.top_k = temperature, top_k
        self.early_stop = early_stop
        self.signature_spec = input_spec
        self.compact_every, self.compact_multiple = compact_every, compact_multiple
        self.seed_generator = keras.random.SeedGenerator(seed) if sampling else None
        self.precision = precision
        self._copies = reduced_precision.snapshot(model, precision)
        self._compiled = None
        self._compiled_constrained = {}  # by whether word continuations are masked
        self._bursts = None

    @classmethod
    def for_options(cls, model, eos_id: int, options, **settings) -> Searcher:
        """A searcher with the search settings of a :class:`~seq2seq.core.decoding.DecodingOptions`
        (beam, α, length limits, sampling, precision) and `settings` (e.g. `compact_every`, `shortlist`)."""
        return cls(model, eos_id, **options.search_arguments(), **settings)

    def build(self, input_shape=None):
        self.built = True  # no weights of its own: the wrapped model is already built

    def search(self, inputs, constraints=None, continuations=None) -> dict:
        """Decodes one padded batch in a compiled graph; returns numpy arrays (see the class doc).

        `constraints`: optional `(ids, lengths)`, int `(batch, terms, term_len)`
        token sequences that must appear in each row's output and their
        lengths `(batch, terms)` (0: an empty slot): the search is then
        lexically constrained beam search (:mod:`seq2seq.core.constraints`,
        even with a beam of 1), and the result holds `satisfied` `(batch,
        beam)`, whether each hypothesis meets every constraint. Not with
        sampling or a shortlist. `continuations`: optional bool `(vocab,)`,
        the tokens that continue a word, which may not follow a finished
        constraint (see :func:`~seq2seq.core.constraints.constrained_start`).

        On TensorFlow, when the output length follows the input's
        (`max_length` None: translation), this is one `tf.function` for every
        batch size and input length (input signature `(None, None)`):
        translating a file compiles once. With a fixed `max_length` (language-
        model generation, whose prompt length is static in the graph) it traces
        once per input shape, unless `input_spec` is given (feature inputs:
        one graph for that spec). Other backends use `predict_on_batch`, which
        compiles per shape (JAX needs static buffer sizes).
        """
        with reduced_precision.using(self._copies):  # traced inside: the copies are captured once
            if constraints is not None:
                return self._constrained(inputs, *constraints, continuations)
            return self._search(inputs)

    def _constrained(self, inputs, ids, lengths, continuations) -> dict:
        if self.temperature is not None or self.top_k is not None or self.shortlist is not None:
            raise ValueError(
                "constrained search is beam search over the whole vocabulary: not with sampling or a shortlist."
            )
        arrays = [np.asarray(x, "int32") for x in (inputs, ids, lengths)]
        if continuations is not None:
            arrays.append(np.asarray(continuations, bool))
        if keras.backend.backend() != "tensorflow":
            state, context = self.constrained_start(*arrays)
            return keras.tree.map_structure(np.asarray, self.result(self.steps(state, context)))
        masked = continuations is not None
        if masked not in self._compiled_constrained:
            import tensorflow as tf

            signature = [tf.TensorSpec((None, None), "int32"), tf.TensorSpec((None, None, None), "int32")]
            signature.append(tf.TensorSpec((None, None), "int32"))
            signature += [tf.TensorSpec((None,), "bool")] if masked else []
            self._compiled_constrained[masked] = tf.function(self.constrained_start, input_signature=signature)
            self._bursts = self._bursts or tf.function(self.steps, reduce_retracing=True)
        state, context = self._compiled_constrained[masked](*arrays)
        output = self._compacted(state, context) if self.compact_every else self._in_bursts(state, context)
        return keras.tree.map_structure(np.asarray, output)

    def constrained_start(self, inputs, ids, lengths, continuations=None):
        """`(state, context)` of constrained beam search (see :mod:`seq2seq.core.constraints`)."""
        max_length, limits = self._limits(inputs)
        return constrained_start(self.model, inputs, ids, lengths, max_length, self.beam_size, limits, continuations)

    def _search(self, inputs) -> dict:
        if keras.backend.backend() != "tensorflow":
            return self.predict_on_batch(inputs)
        shape, dtype = self.signature_spec or ((None, None), "int32")
        if self._compiled is None:
            import tensorflow as tf

            one = self.max_length is None or self.signature_spec is not None
            signature = [tf.TensorSpec(shape, dtype)] if one else None
            self._compiled = tf.function(self.start, input_signature=signature, reduce_retracing=False)
            self._bursts = tf.function(self.steps, reduce_retracing=True)
        state, context = self._compiled(ops.convert_to_tensor(inputs, dtype))
        output = self._compacted(state, context) if self.compact_every else self._in_bursts(state, context)
        return keras.tree.map_structure(np.asarray, output)

    def _limits(self, inputs):
        """`(max_length, limits)`: the output buffer length and each row's limit (None: the buffer's)."""
        if self.max_length is not None:
            return self.max_length, None
        limits = length_limit(
            ops.sum(ops.cast(ops.not_equal(inputs, PAD_ID), "int32"), axis=1),
            self.max_length_ratio,
            self.max_length_offset,
        )  # (batch,)
        input_len = inputs.shape[1]
        return (
            ops.max(limits)
            if input_len is None  # one graph for every length (TensorFlow)
            else max_target_length(input_len, self.max_length_ratio, self.max_length_offset)
        ), limits

    def start(self, inputs):
        """`(state, context)` before the first step (see :func:`~seq2seq.core.search.beam_start`)."""
        max_length, limits = self._limits(inputs)
        if self.beam_size == 1:
            sampling = self.temperature is not None or self.top_k is not None
            state, context = greedy_start(self.model, inputs, max_length, limits, sampling, self.seed_generator)
        else:
            state, context = beam_start(self.model, inputs, max_length, self.beam_size, limits)
        if self.shortlist is not None:
            state["vocabulary"] = self.shortlist.candidates(inputs)
        return state, context

    def steps(self, state, context, steps=None):
        """`state` after at most `steps` more steps (default: until every row has finished)."""
        steps = ops.shape(state["tokens"])[-1] if steps is None else steps
        with output.restricted(self.model, state.get("vocabulary")):
            if "constraints" in state:
                return constrained_steps(self.model, state, context, self.eos_id, steps)
            if self.beam_size == 1:
                return greedy_steps(self.model, state, context, self.eos_id, steps, self.temperature, self.top_k)
            return beam_steps(self.model, state, context, self.eos_id, steps, self.alpha, self.early_stop)

    def result(self, state) -> dict:
        if "constraints" in state:
            tokens, scores, normalized, satisfied = constrained_result(state, self.alpha)
            return {"tokens": tokens, "scores": scores, "normalized_scores": normalized, "satisfied": satisfied}
        if self.beam_size == 1:
            return {
                "tokens": state["tokens"][:, None, :],
                "scores": state["scores"][:, None],
                "normalized_scores": state["scores"][:, None],
            }
        tokens, scores, normalized = beam_result(state["tokens"], state["scores"], state["lengths"], self.alpha)
        return {"tokens": tokens, "scores": scores, "normalized_scores": normalized}

    def call(self, inputs):
        state, context = self.start(inputs)
        return self.result(self.steps(state, context))

    def _in_bursts(self, state, context) -> dict:
        """Runs the compiled steps in bursts of about `BURST_SECONDS` until every row has finished.

        The burst length is a tensor, so it changes without a new trace, and
        the outputs are those of one loop: the steps hold no state of their own
        (sampling's random numbers are drawn in `start`).
        """
        steps = FIRST_BURST
        while not self._all_finished(state):
            began = time.perf_counter()
            state = self._bursts(state, context, ops.convert_to_tensor(steps, "int32"))
            took = time.perf_counter() - began
            steps = int(min(MAX_BURST, max(1, steps * BURST_SECONDS / max(took, 1e-3))))
        return self.result(state)

    @staticmethod
    def _all_finished(state) -> bool:
        return int(state["t"]) >= state["tokens"].shape[-1] or bool(np.all(np.asarray(state["finished"])))

    def _compacted(self, state, context) -> dict:
        """Runs the compiled steps in bursts, setting finished sentences aside between them."""
        sentences = int(state["limits"].shape[0])
        per_sentence = 1 if self.beam_size == 1 else self.beam_size
        done = {name: np.zeros_like(np.asarray(state[name])) for name in RESULT_ROWS if name in state}
        open_rows = np.arange(sentences)  # which sentence each remaining row is
        burst = ops.convert_to_tensor(self.compact_every, "int32")
        while len(open_rows):
            state = self._bursts(state, context, burst)
            finished = np.asarray(state["finished"]).reshape(len(open_rows), -1).all(axis=1)
            if int(state["t"]) >= state["tokens"].shape[-1]:
                finished[:] = True
            still = np.flatnonzero(~finished)
            rows_kept = min(len(open_rows), self.compact_multiple * -(-len(still) // self.compact_multiple))
            if rows_kept == len(open_rows) and len(still):
                continue  # too few finished to shrink the batch by a whole multiple: keep its shape
            keep = np.sort(np.concatenate([still, np.flatnonzero(finished)[: rows_kept - len(still)]]))
            dropped = np.setdiff1d(np.arange(len(open_rows)), keep)
            for name in done:
                done[name][open_rows[dropped]] = np.asarray(state[name])[dropped]
            open_rows = open_rows[keep]
            if len(still):
                rows = (keep[:, None] * per_sentence + np.arange(per_sentence)).reshape(-1)
                state = {
                    name: value if name in BATCH_ENTRIES else _gather(value, keep if name in SENTENCE_ROWS else rows)
                    for name, value in state.items()
                }
                context = _gather(context, rows)
        return self.result({**state, **{name: ops.convert_to_tensor(value) for name, value in done.items()}})
