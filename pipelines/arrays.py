"""Training batches from token-id arrays in NumPy, for backends without tf.data (see seq2seq.translation.arrays).

The same batches as :mod:`pipelines.translation` makes in tf.data (source
ids; `<bos>`-started decoder inputs; `<eos>`-ended targets; corpora mixed by
weight; length buckets), with few distinct shapes, so that a compiling
backend (JAX) compiles each training step once per bucket.
"""

from __future__ import annotations

import numpy as np


def pack(sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged id lists as `(flat int32 ids, offsets)`."""
    lengths = np.array([len(ids) for ids in sequences], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.fromiter((i for ids in sequences for i in ids), np.int32, count=int(offsets[-1]))
    return flat, offsets


def unpack(flat: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    """The id arrays of `pack`'s output."""
    return [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


def pad_batch(
    batch: list[tuple[np.ndarray, np.ndarray]], length: int, bos_id: int, eos_id: int, rows: int | None = None
):
    """`({"source_ids", "target_inputs"}, targets)` arrays `(rows, length)` of `(source ids, target ids)` pairs.

    Decoder inputs are `<bos> y1 .. yn`, targets `y1 .. yn <eos>`, 0-padded.
    Rows past the pairs (up to `rows`) repeat the first source with no
    target, so they count for nothing in a masked loss.
    """
    rows = rows or len(batch)
    source, inputs, targets = (np.zeros((rows, length), np.int32) for _ in range(3))
    inputs[:, 0] = bos_id
    source[len(batch) :, : len(batch[0][0])] = batch[0][0]
    for row, (s, t) in enumerate(batch):
        source[row, : len(s)] = s
        inputs[row, 1 : len(t) + 1] = t
        targets[row, : len(t)], targets[row, len(t)] = t, eos_id
    return {"source_ids": source, "target_inputs": inputs}, targets


def bucketed(pairs, buckets: list[int], max_tokens: int, bos_id: int, eos_id: int, rest: bool = False):
    """`(batches, leftovers)`: fixed-shape batches from `pairs`; a bucket of length L holds `max_tokens // L` pairs.

    A pair's length is its longer side (the target counted with `<eos>`);
    longer pairs are skipped. `batches` lists `(inputs, targets)` for every
    full batch in the order they fill; with `rest`, the leftovers follow in
    smaller batches (padded to the same shape) and `leftovers` is empty;
    without it, `leftovers` holds them (fewer than a batch per bucket).
    """
    waiting, batches = [[] for _ in buckets], []
    for pair in pairs:
        index = int(np.searchsorted(buckets, max(len(pair[0]), len(pair[1]) + 1)))
        if index == len(buckets):
            continue
        waiting[index].append(pair)
        if len(waiting[index]) == max(1, max_tokens // buckets[index]):
            batches.append(pad_batch(waiting[index], buckets[index], bos_id, eos_id))
            waiting[index] = []
    if rest:
        batches += [
            pad_batch(group, length, bos_id, eos_id, max(1, max_tokens // length))
            for group, length in zip(waiting, buckets)
            if group
        ]
        return batches, []
    return batches, [pair for group in waiting for pair in group]


def weighted_batches(
    corpora,
    weights: list[float],
    buckets: list[int],
    max_tokens: int,
    bos_id: int,
    eos_id: int,
    seed: int,
    pool: int = 50_000,
):
    """Endless training batches: pairs drawn from the corpora with probabilities `weights` (normalized).

    Pools of `pool` draws are bucketed and their batches shuffled; what a
    pool leaves over starts the next one.
    """
    rng = np.random.default_rng(seed)
    probabilities = np.asarray(weights, np.float64) / np.sum(weights)
    orders = [rng.permutation(len(sources)) for _, sources, _ in corpora]
    cursors = [0] * len(corpora)
    left = []
    while True:
        draws = []
        for index in rng.choice(len(corpora), size=pool, p=probabilities):
            if cursors[index] == len(orders[index]):
                orders[index], cursors[index] = rng.permutation(len(orders[index])), 0
            pair = orders[index][cursors[index]]
            cursors[index] += 1
            draws.append((corpora[index][1][pair], corpora[index][2][pair]))
        batches, left = bucketed(left + draws, buckets, max_tokens, bos_id, eos_id)
        for position in rng.permutation(len(batches)):
            yield batches[position]
