"""Lexical shortlists: each batch's search scores only the words its sources can translate to.

A decoding step of a recurrent translator on a CPU spends much of its time
on the vocabulary: the product with the whole output matrix, the softmax and
the top-k over every word (bench/results/search_profile.txt). Most of those
words cannot be the translation of anything in the batch. A lexical
shortlist (Jean et al. 2015; Marian's `--shortlist`, Junczys-Dowmunt et al.
2018) keeps, for each batch, the union of

- the `per_source` target words most often aligned to each source word of
  the batch (the row of that word in `table`),
- the `frequent` most frequent target words of the training data
  (punctuation, function words), and the special ids 0-3,

and the output layers compute the logits of those words only, through
:func:`seq2seq.core.output.restricted`; the softmax normalises over them.
Outputs differ from a search over the whole vocabulary only where a word
outside the list would have been chosen.

Where the alignments come from: the model itself. With teacher forcing on
training pairs, each target token is aligned to the source position its
attention weighs most, and `table` holds, per source id, the target ids most
often aligned to it. This needs no external aligner (fast_align is not on
PyPI; eflomal builds from C sources) and matches what the model attends to;
models without attention cannot build one.

The file `shortlist.npz` in a model directory holds int32 arrays `table`
`(source_vocab, per_source)` (rows padded with 0, the padding id, which every
list holds anyway) and `frequent`, and the int `pairs` it was built from;
it is read with `allow_pickle=False`, so loading runs no code. `translate`,
`evaluate` and `serve` use it with `--shortlist`; without it they search the
whole vocabulary (the default: the same outputs as without a file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seq2seq.core.specials import SPECIALS
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write

FILE_NAME = "shortlist.npz"
# 20 target words per source word: on Multi30k val with the captions model (beam 5), BLEU 39.83 without a
# shortlist, 39.75 with 50, 39.87 with 20, 39.68 with 10 (the union over a batch: 2,322 / 1,535 / 1,047 of 8,000)
PER_SOURCE = 20
FREQUENT = 100
MAX_PAIRS = 200_000  # pairs read to build a table: enough for every frequent word, in bounded time and memory


class Shortlist:
    """The candidate target ids of a batch of sources (see the module doc).

    Args:
        table: int `(source_vocab, per_source)` target ids per source id.
        frequent: int `(n,)` target ids always in the list.
        target_vocab_size: the output layer's size.
    """

    def __init__(self, table, frequent, target_vocab_size: int, pairs: int = 0):
        self.table = np.asarray(table, "int32")
        self.always = np.union1d(np.arange(len(SPECIALS)), np.asarray(frequent, "int32")).astype("int32")
        self.target_vocab_size = target_vocab_size
        self.pairs = pairs

    def candidates(self, source_ids):
        """Sorted int32 ids `(n,)`: `always` and the rows of every id in `source_ids` (any shape)."""
        from keras import ops

        rows = ops.take(ops.convert_to_tensor(self.table), ops.reshape(ops.cast(source_ids, "int32"), (-1,)), axis=0)
        ids = ops.concatenate([ops.reshape(rows, (-1,)), ops.convert_to_tensor(self.always)], axis=0)
        hits = ops.scatter(ids[:, None], ops.ones_like(ids), (self.target_vocab_size,))
        return ops.cast(ops.nonzero(hits > 0)[0], "int32")

    def save(self, path: str | Path) -> None:
        frequent = np.setdiff1d(self.always, np.arange(len(SPECIALS)))
        with atomic_write(path, "wb", encoding=None) as handle:
            np.savez_compressed(handle, table=self.table, frequent=frequent, pairs=np.int64(self.pairs))

    @classmethod
    def load(cls, path: str | Path, source_vocab_size: int, target_vocab_size: int) -> Shortlist:
        """Reads and checks a shortlist file; raises :class:`UserError` naming it if it does not fit the model."""
        try:
            with np.load(path, allow_pickle=False) as data:
                table, frequent, pairs = data["table"], data["frequent"], int(data["pairs"])
        except (OSError, ValueError, KeyError) as error:
            raise UserError(
                f"{path}: not a shortlist file ({type(error).__name__}: {error}); rebuild it with "
                "`seq2seq shortlist`, or translate without --shortlist."
            ) from None
        problems = []
        if table.ndim != 2 or table.shape[0] != source_vocab_size:
            problems.append(f"its table has shape {table.shape}, expected ({source_vocab_size}, N)")
        for name, ids in (("table", table), ("frequent", frequent)):  # (ids out of range would gather garbage)
            if ids.dtype.kind not in "iu" or (ids.size and not 0 <= ids.min() <= ids.max() < target_vocab_size):
                problems.append(f"its {name} holds values that are not target ids below {target_vocab_size}")
        if problems:
            raise UserError(
                f"{path}: does not fit this model ({'; '.join(problems)}); it comes from another "
                "model. Rebuild it with `seq2seq shortlist`, or translate without --shortlist."
            )
        return cls(table, frequent, target_vocab_size, pairs)


def is_shortlist(path: Path) -> bool:
    """Whether `path` is a file this module wrote (for `--overwrite`, which replaces nothing else)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {"table", "frequent", "pairs"} <= set(data.files)
    except (OSError, ValueError):
        return False


def load_shortlist(directory: str | Path, model) -> Shortlist:
    """The shortlist of a translation-model directory; raises :class:`UserError` when it has none."""
    path = Path(directory) / FILE_NAME
    if not path.is_file():
        raise UserError(
            f"{path}: not found; --shortlist needs the model's shortlist. Build it with "
            f"`seq2seq shortlist --model {directory} --source TRAIN.de --target TRAIN.en`, "
            "or translate without --shortlist."
        )
    return Shortlist.load(path, model.source_vocab_size, model.target_vocab_size)


def aligned_pairs(model, source_vocab, target_vocab, pairs, batch_size: int = 64, max_tokens: int = 250, progress=None):
    """`(source ids, target ids)` int arrays: each target token of `pairs` and the source token it attends to most.

    `pairs` are `(source text, target text)`; tokens beyond `max_tokens`
    subwords are cut. `<eos>` is not counted (it is in every list).
    """
    import tensorflow as tf

    from seq2seq.translation.translator import length_batches

    encoded = [(source_vocab.encode(s)[:max_tokens], target_vocab.encode(t)[:max_tokens]) for s, t in pairs]
    encoded = sorted(((ids, target) for ids, target in encoded if ids and target), key=lambda p: len(p[0]))
    weights_of = tf.function(lambda batch: model.attend(batch, training=False)[1], reduce_retracing=True)
    sources, targets = [], []
    for chunk in length_batches(encoded, batch_size, 4096):
        width, length = max(len(s) for s, _ in chunk), max(len(t) for _, t in chunk)
        source = np.zeros((len(chunk), width), "int32")
        target = np.zeros((len(chunk), length + 1), "int32")  # <bos> y1 ... yn
        target[:, 0] = target_vocab.bos_id
        for row, (ids, target_ids) in enumerate(chunk):
            source[row, : len(ids)] = ids
            target[row, 1 : len(target_ids) + 1] = target_ids
        weights = np.asarray(weights_of({"source_ids": source, "target_inputs": target}))  # (batch, length + 1, width)
        position = weights[:, :-1].argmax(axis=-1)  # the step emitting y_i reads target[:, i]
        outputs = target[:, 1:]
        emitted = outputs != 0
        sources.append(np.take_along_axis(source, position, axis=1)[emitted])
        targets.append(outputs[emitted])
        if progress is not None:
            progress(len(chunk))
    return np.concatenate(sources), np.concatenate(targets)


def build_shortlist(
    model, source_vocab, target_vocab, pairs, per_source: int = PER_SOURCE, frequent: int = FREQUENT, progress=None
) -> Shortlist:
    """A :class:`Shortlist` from the model's own alignments of `pairs` (see the module doc)."""
    if getattr(model.decoder, "attention_kind", "none") == "none":
        raise UserError(
            "this model has no attention, and a shortlist is built from the model's attention; "
            "translate it without --shortlist."
        )
    for option, value in (("--per-source", per_source), ("--frequent", frequent)):
        if value > model.target_vocab_size:  # more than every target word: a table of no use, sized by the value
            raise UserError(
                f"{option} {value}: more than the model's {model.target_vocab_size} target subwords; "
                f"use at most {model.target_vocab_size}."
            )
    source_ids, target_ids = aligned_pairs(model, source_vocab, target_vocab, pairs, progress=progress)
    return lexical_table(
        source_ids, target_ids, model.source_vocab_size, model.target_vocab_size, per_source, frequent, len(pairs)
    )


def lexical_table(
    source_ids,
    target_ids,
    source_vocab_size: int,
    target_vocab_size: int,
    per_source: int = PER_SOURCE,
    frequent: int = FREQUENT,
    pairs: int = 0,
) -> Shortlist:
    """A :class:`Shortlist` from aligned token pairs (`source_ids[i]` aligned to `target_ids[i]`).

    Each source id's row holds the target ids aligned to it most often
    (ties: the smaller id first), at most `per_source`; `frequent` are the
    most frequent ids of `target_ids`.
    """
    source_ids, target_ids = np.asarray(source_ids, "int64"), np.asarray(target_ids, "int64")
    keys, counts = np.unique(source_ids * target_vocab_size + target_ids, return_counts=True)
    order = np.lexsort((keys, -counts, keys // target_vocab_size))  # by source id, then most often aligned first
    keys = keys[order]
    source_of = keys // target_vocab_size
    starts = np.searchsorted(source_of, np.arange(source_vocab_size))
    rank = np.arange(len(keys)) - starts[source_of]
    kept = rank < per_source
    table = np.zeros((source_vocab_size, per_source), "int32")
    table[source_of[kept], rank[kept]] = keys[kept] % target_vocab_size
    totals = np.bincount(target_ids, minlength=target_vocab_size)
    common = np.argsort(-totals, kind="stable")[:frequent]
    return Shortlist(table, common[totals[common] > 0], target_vocab_size, pairs)


def coverage_note(shortlist: Shortlist) -> str:
    """A line on how much of the table is filled, for the command's summary."""
    filled = int(np.count_nonzero(shortlist.table.any(axis=1)))
    return (
        f"{filled} of {len(shortlist.table)} source ids have aligned target ids "
        f"(at most {shortlist.table.shape[1]} each), {len(shortlist.always)} always in the list; "
        f"built from {shortlist.pairs} pairs"
    )
