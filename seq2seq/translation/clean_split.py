"""An honest held-out split of a parallel corpus: no held-out sentence, nor a near copy, is left in training.

Sentence-pair corpora such as Tatoeba hold the same sentence many times (one
German sentence with several English translations, the same English sentence
under several German ones) and many near copies ("Tom ist müde." / "Tom war
müde."). A random dev set then shares its sentences with training, and its
BLEU says how well the model remembers, not how well it translates.
:func:`clean_split` carves dev and test sets so that:

1. no side of a held-out pair occurs in the remaining training data after
   normalising (case folded, punctuation removed, white space collapsed):
   pairs linked through a shared normalised side form one group, and a group
   is held out whole or not at all;
2. no side of a held-out pair is a near copy of a training sentence on the
   same side: the Jaccard similarity of their sets of character 4-grams
   (of the normalised text, with a space at each end) is at most
   `threshold` (0.6 by default; "tom ist müde" and "tom war müde" score 0.29,
   "ich habe keine zeit" and "ich hab keine zeit" 0.67). A group with such
   a pair goes back to training.

Groups are drawn in a random order from `seed`; dev and test take the pairs
of the groups drawn until each holds `size` pairs (the last group may take a
set a little past `size`).
"""

from __future__ import annotations

import random
import unicodedata
import zlib

import numpy as np

NGRAM = 4
BUCKETS = 1 << 22  # n-grams are hashed into this many columns (collisions only raise a similarity a little)
CHUNK = 256  # candidates compared with the training sentences at once


def normalised(text: str) -> str:
    """Case folded, punctuation removed, white space collapsed."""
    kept = "".join(" " if unicodedata.category(char).startswith(("P", "Z")) else char for char in text.casefold())
    return " ".join(kept.split())


def ngrams(text: str) -> set[int]:
    """The hashed character 4-grams of a normalised sentence (with a space at each end)."""
    padded = f" {text} "
    return {zlib.crc32(padded[i : i + NGRAM].encode("utf-8")) % BUCKETS for i in range(max(1, len(padded) - NGRAM + 1))}


def _groups(pairs: list[tuple[str, str]]) -> list[list[int]]:
    """Indices of pairs linked by a shared normalised source or target (union-find), each group sorted."""
    parent = list(range(len(pairs)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    for side in (0, 1):
        first: dict[str, int] = {}
        for index, pair in enumerate(pairs):
            key = normalised(pair[side])
            if key in first:
                parent[root(index)] = root(first[key])
            else:
                first[key] = index
    groups: dict[int, list[int]] = {}
    for index in range(len(pairs)):
        groups.setdefault(root(index), []).append(index)
    return list(groups.values())


def _matrix(texts: list[str]):
    """A sparse 0/1 matrix of the texts' n-grams (rows) and the row sizes."""
    from scipy import sparse

    rows, columns = [], []
    for row, text in enumerate(texts):
        grams = ngrams(text)
        rows += [row] * len(grams)
        columns += sorted(grams)
    data = np.ones(len(rows), np.float32)
    matrix = sparse.csr_matrix((data, (rows, columns)), shape=(len(texts), BUCKETS))
    return matrix, np.asarray(matrix.sum(axis=1)).ravel()


def near_copies(candidates: list[str], texts: list[str], threshold: float, allowed=None) -> np.ndarray:
    """For each normalised candidate, whether one of the normalised `texts` has n-gram Jaccard above `threshold`.

    `allowed(candidate_rows, text_columns)`, if given, marks the matches that
    do not count (a boolean array over the matched pairs).
    """
    found = np.zeros(len(candidates), bool)
    if not candidates or not texts:
        return found
    text_matrix, text_sizes = _matrix(texts)
    transposed = text_matrix.T.tocsr()
    for start in range(0, len(candidates), CHUNK):
        chunk, sizes = _matrix(candidates[start : start + CHUNK])
        shared = (chunk @ transposed).tocoo()  # (chunk, texts): counts of shared n-grams
        union = sizes[shared.row] + text_sizes[shared.col] - shared.data
        similar = shared.data / np.maximum(union, 1) > threshold
        if allowed is not None:
            similar &= ~allowed(start + shared.row, shared.col)
        found[start + np.unique(shared.row[similar])] = True
    return found


def clean_split(
    pairs: list[tuple[str, str]], size: int, threshold: float = 0.6, seed: int = 0
) -> tuple[list[int], list[int], list[int], dict]:
    """`(train, dev, test, counts)`: indices into `pairs` (see the module doc), and what was passed over why.

    A group is eligible when none of its sentences has a near copy in another
    group (on the same side): whatever is not held out can then go to
    training. Identical normalised sentences are always in one group.
    """
    groups = _groups(pairs)
    random.Random(seed).shuffle(groups)
    group_of = np.empty(len(pairs), np.int64)
    for number, group in enumerate(groups):
        group_of[group] = number
    sets: list[list[int]] = [[], []]
    passed_over, position = 0, 0
    while position < len(groups) and len(sets[1]) < size:
        pool = []  # the next groups, about what is still needed (twice over: some have near copies)
        while position < len(groups) and len(pool) < 2 * (2 * size - len(sets[0]) - len(sets[1])):
            pool.extend(groups[position])
            position += 1
        copied = np.zeros(len(pairs), bool)
        for side in (0, 1):
            texts = {}
            for index, pair in enumerate(pairs):  # each normalised text lies in exactly one group
                texts.setdefault(normalised(pair[side]), group_of[index])
            keys = list(texts)
            text_groups = np.asarray([texts[key] for key in keys])
            pool_groups = group_of[pool]
            flags = near_copies(
                [normalised(pairs[i][side]) for i in pool],
                keys,
                threshold,
                allowed=lambda rows, columns, texts=text_groups, own=pool_groups: texts[columns] == own[rows],
            )
            copied[np.asarray(pool)[flags]] = True
        for number in dict.fromkeys(group_of[pool]):
            group = groups[number]
            if copied[group].any():
                passed_over += len(group)
                continue
            target = next((held for held in sets if len(held) < size), None)
            if target is None:
                break
            target.extend(group)
    chosen = set(sets[0]) | set(sets[1])
    train = [index for index in range(len(pairs)) if index not in chosen]
    counts = {"pairs": len(pairs), "groups": len(groups), "passed_over_near_copies": passed_over}
    return train, sorted(sets[0]), sorted(sets[1]), counts
