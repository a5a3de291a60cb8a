"""Where beam search spends its time: steps run, steps wasted, and the cost of each part of a step.

Usage (from the repository root, nothing else running):
    python bench/search_profile.py [--model saved_models/multi30k_de_en] [--source ../shared/data/news/dev.de.gz]
        [--bursts none,16,8,4]

Batches the source as `seq2seq translate` does (sorted by length, at most 64
sentences and `BATCH_TOKENS` padded source subwords a batch) and decodes each with beam 5
(warm: a first pass compiles). Prints:

- per batch: the source width, the steps the search loop ran, the longest
  best hypothesis, the length limit, and the batch's time;
- the steps the loop ran beyond each sentence's best hypothesis, summed over
  sentences (work on sentences whose answer was already decided), and the
  share of source positions that are padding;
- for the median-width batch, the time of one decoding step and of its
  parts, each compiled alone (`tf.function`) and timed over repeated calls:
  the recurrent core, the attention, the output projection with its
  log-softmax, and the beam bookkeeping (top-k over beam x vocabulary and
  the gathers of the carried state); and the encoder once per batch;
- the sentence-steps until each sentence's 1-best is certain (beam search
  stops it there) and until its 1-best ends, summed over sentences;
- for each `--bursts` value K, the warm speed of the search run in bursts of
  K steps with finished sentences dropped between them (`translate` uses
  K = 4), and how many 1-best outputs equal the first value's.
The per-batch figures above are of one loop per batch (no bursts).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import host_line, warn_if_busy  # noqa: E402
from keras import ops  # noqa: E402

from seq2seq.core.search import length_limit  # noqa: E402
from seq2seq.core.searcher import Searcher  # noqa: E402
from seq2seq.model_dirs import load_translation_model  # noqa: E402
from seq2seq.textio import read_lines  # noqa: E402
from seq2seq.translation.translator import BATCH_TOKENS, length_batches  # noqa: E402

BEAM, BATCH = 5, 64


def timed(function, *arguments, repeats: int = 20) -> float:
    """Median seconds of `function(*arguments)` (compiled), after a warm-up call."""
    compiled = tf.function(function)
    compiled(*arguments)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        tf.nest.map_structure(lambda x: x.numpy() if hasattr(x, "numpy") else x, compiled(*arguments))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/multi30k_de_en")
    parser.add_argument("--source", default="../shared/data/news/dev.de.gz")
    parser.add_argument("--bursts", default="none,16,8,4", help="compact_every values to time (none: one loop)")
    arguments = parser.parse_args()
    warn_if_busy()
    print(host_line())
    model, source_vocab, target_vocab = load_translation_model(arguments.model)
    ids = sorted((source_vocab.encode(line)[:250] for line in read_lines(arguments.source) if line.strip()), key=len)
    batches = []
    for chunk in length_batches(list(enumerate(ids)), BATCH, BATCH_TOKENS):
        array = np.zeros((len(chunk), len(chunk[-1][1])), "int32")
        for row, (_, line_ids) in enumerate(chunk):
            array[row, : len(line_ids)] = line_ids
        batches.append(array)
    searcher = Searcher(model, eos_id=target_vocab.eos_id, beam_size=BEAM, alpha=0.6, early_stop=True)
    for batch in batches:  # compile (one graph for every shape)
        searcher.search(batch[:2])
        break
    total, wasted, rows = 0.0, 0, 0
    print(f"{'width':>5} {'steps':>5} {'best':>4} {'limit':>5} {'seconds':>7}")
    for batch in batches:
        started = time.perf_counter()
        output = searcher.search(batch)
        seconds = time.perf_counter() - started
        total += seconds
        tokens = output["tokens"]  # (batch, beam, length), best first
        lengths = (tokens != 0).sum(axis=2)
        steps = int(lengths.max())
        best = lengths[:, 0]
        limits = np.asarray(length_limit((batch != 0).sum(axis=1), 1.5, 10))
        wasted += int((steps - best).sum())
        rows += len(batch)
        print(f"{batch.shape[1]:>5} {steps:>5} {int(best.max()):>4} {int(limits.max()):>5} {seconds:>7.2f}")
    print(
        f"beam {BEAM}: {rows} sentences in {total:.1f} s warm ({rows / total:.1f} sentences/s); "
        f"sentence-steps run beyond each sentence's best hypothesis: {wasted}"
    )
    padded, real = sum(batch.size for batch in batches), sum(int((batch != 0).sum()) for batch in batches)
    print(
        f"source padding: {padded - real} of {padded} source positions ({100 * (padded - real) / padded:.1f} %), "
        "each read by the encoder once and by the attention at every step"
    )

    batch = batches[len(batches) // 2]
    context, carry, first = model.encode(batch)
    repeat = lambda structure: tf.nest.map_structure(  # noqa: E731
        lambda x: None if x is None else ops.repeat(x, BEAM, axis=0), structure
    )
    context, carry, first = repeat(context), repeat(carry), repeat(first)
    memory, keys, mask = context
    decoder = model.decoder
    embedded = decoder.embedding(first)
    states, feed = carry
    query = states[-1][0]
    hidden = ops.zeros((ops.shape(first)[0], decoder.units))
    vocab = len(target_vocab)
    scores = ops.zeros((batch.shape[0], BEAM * vocab))
    parts = {
        "encoder (once per batch)": timed(lambda x: model.encode(x), batch),
        "one decoding step": timed(lambda t, c: model.decode_step(t, c, context), first, carry),
        "  recurrent core": timed(
            lambda e, s: decoder.core.step(ops.concatenate([e, memory[:, 0]], -1), s), embedded, states
        ),
        "  attention": timed(lambda q: decoder.attention(q, memory, keys, mask), query),
        "  output projection + log-softmax": timed(
            lambda h: ops.log_softmax(
                model.head(decoder.combine(ops.concatenate([h, memory[:, 0], embedded], -1))), axis=-1
            ),
            hidden,
        ),
        "beam bookkeeping (top-k, gathers)": timed(
            lambda s: tf.nest.map_structure(
                lambda x: ops.take(x, ops.arange(ops.shape(x)[0]), axis=0), (ops.top_k(s, BEAM), carry)
            ),
            scores,
        ),
    }
    print(f"median-width batch: {batch.shape[0]} sentences x beam {BEAM}, width {batch.shape[1]}, vocabulary {vocab}")
    for name, seconds in parts.items():
        print(f"  {name:<36} {1000 * seconds:7.2f} ms")
    bursts(
        model, target_vocab, batches, [None if value == "none" else int(value) for value in arguments.bursts.split(",")]
    )
    return 0


def bursts(model, target_vocab, batches, sizes) -> None:
    """Sentence-steps until each 1-best is certain, and warm speed with finished sentences dropped every K steps."""
    searcher = Searcher(model, eos_id=target_vocab.eos_id, beam_size=BEAM, alpha=0.6, early_stop=True)
    start, steps = tf.function(searcher.start), tf.function(searcher.steps, reduce_retracing=True)
    certain = ended = 0
    for batch in batches:  # one step at a time: when does each sentence finish?
        state, context = start(tf.constant(batch))
        finished_at, t = np.zeros(len(batch), int), 0
        while not finished_at.all() and t < state["tokens"].shape[-1]:
            state, t = steps(state, context, tf.constant(1)), t + 1
            finished_at[(finished_at == 0) & np.asarray(state["finished"]).all(axis=1)] = t
        certain += int(finished_at.sum())
        ended += int((np.asarray(searcher.result(state)["tokens"])[:, 0] != 0).sum())
    print(f"sentence-steps: {certain} until each sentence's 1-best is certain, {ended} until it ends")
    outputs = {}
    for size in sizes:
        searcher = Searcher(
            model, eos_id=target_vocab.eos_id, beam_size=BEAM, alpha=0.6, early_stop=True, compact_every=size
        )
        searcher.search(batches[0][:2])  # compile
        started = time.perf_counter()
        outputs[size] = [searcher.search(batch)["tokens"][:, 0] for batch in batches]
        seconds = time.perf_counter() - started
        same = sum(int((a == b).all(axis=1).sum()) for a, b in zip(outputs[size], outputs[sizes[0]]))
        print(
            f"compact_every={size}: {sum(map(len, batches)) / seconds:.1f} sentences/s warm; "
            f"1-best identical to compact_every={sizes[0]} for {same} sentences"
        )


if __name__ == "__main__":
    raise SystemExit(main())
