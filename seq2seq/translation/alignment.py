"""Word alignments of translations from the model's own attention, in Pharaoh format (`0-0 1-2 ...`).

The model reads each translation as its output for the source (teacher
forcing); each target subword is aligned to the source subword its attention
weighs most (the `</s>` step is left out). Subwords are then mapped to words
as the user sees them: a SentencePiece piece that begins with `▁` begins a
new word, any other continues the word before, so word k is the k-th
white-space separated word of the sentence (punctuation written against a
word is part of it). A source word and a target word are aligned when any
of their subwords are; pairs are written `SOURCE-TARGET`, counted from 0,
sorted. An empty source or translation has no pairs.
"""

from __future__ import annotations

import numpy as np

from seq2seq.errors import UserError

BATCH = 32
WORD_START = "\u2581"  # SentencePiece's marker of a piece that follows a space


def word_numbers(pieces: list[str]) -> list[int]:
    """The word each piece belongs to (see the module doc)."""
    numbers, word = [], -1
    for piece in pieces:
        if piece.startswith(WORD_START) or word < 0:
            word += 1
        numbers.append(word)
    return numbers


def pharaoh(pairs: list[tuple[int, int]]) -> str:
    return " ".join(f"{source}-{target}" for source, target in pairs)


def punctuation(pieces: list[str]) -> np.ndarray:
    """Bool: the pieces with no letter or digit (punctuation, a lone `▁`)."""
    return np.array([not any(c.isalnum() for c in piece) for piece in pieces], bool)


def word_pairs(matrix, source_pieces, target_pieces, content_only: bool = False) -> list[tuple[int, int]]:
    """Word pairs of one attention `matrix` `(target pieces, source pieces)` (see the module doc).

    With `content_only`, pieces without a letter or digit take no part (a
    model's attention often rests on the final full stop) and only links
    that each side's attention agrees on are kept: a target piece and the
    source piece it weighs most, when that source piece also weighs that
    target piece most among the target pieces (the intersection of the two
    directions): fewer links, more of them right.
    """
    source_words, target_words = word_numbers(source_pieces), word_numbers(target_pieces)
    if not content_only:
        return sorted({(source_words[int(column)], target_words[row]) for row, column in enumerate(matrix.argmax(-1))})
    source_skip, target_skip = punctuation(source_pieces), punctuation(target_pieces)
    if source_skip.all() or target_skip.all():
        return []
    weights = np.where(source_skip[None, :] | target_skip[:, None], -1.0, matrix)
    best_source, best_target = weights.argmax(-1), weights.argmax(0)
    return sorted(
        {
            (source_words[int(column)], target_words[row])
            for row, column in enumerate(best_source)
            if not target_skip[row] and best_target[column] == row
        }
    )


def align(
    model, source_vocab, target_vocab, sources, targets, max_source_tokens: int = 250, content_only: bool = False
) -> list[list]:
    """`[(source word, target word), ...]` of each (source, translation) pair (see the module doc and
    :func:`word_pairs` for `content_only`)."""
    from seq2seq.models.ensemble import members_of

    if any(getattr(m, "decoder", None) is None or m.decoder.attention_kind == "none" for m in members_of(model)):
        raise UserError("alignments come from the model's attention; this model (or a member of it) has none.")
    results = []
    for start in range(0, len(sources), BATCH):
        chunk = list(zip(sources[start : start + BATCH], targets[start : start + BATCH]))
        source_ids = [source_vocab.encode(source)[:max_source_tokens] for source, _ in chunk]
        target_ids = [target_vocab.encode(target) for _, target in chunk]
        rows = [index for index, (s, t) in enumerate(zip(source_ids, target_ids)) if s and t]
        weights = None
        if rows:
            width = max(len(source_ids[i]) for i in rows)
            length = max(len(target_ids[i]) for i in rows) + 1
            inputs = {
                "source_ids": np.zeros((len(rows), width), np.int32),
                "target_inputs": np.zeros((len(rows), length), np.int32),
            }
            for row, index in enumerate(rows):
                inputs["source_ids"][row, : len(source_ids[index])] = source_ids[index]
                ids = [target_vocab.bos_id] + target_ids[index]
                inputs["target_inputs"][row, : len(ids)] = ids
            _, weights = model(inputs, training=False, return_attention=True)
            weights = np.asarray(weights, np.float32)
        position = {index: row for row, index in enumerate(rows)}
        for index in range(len(chunk)):
            if index not in position:
                results.append([])
                continue
            source, target = source_ids[index], target_ids[index]
            matrix = weights[position[index], : len(target), : len(source)]
            source_pieces = [source_vocab.processor.id_to_piece(i) for i in source]
            target_pieces = [target_vocab.processor.id_to_piece(i) for i in target]
            results.append(word_pairs(matrix, source_pieces, target_pieces, content_only))
    return results
