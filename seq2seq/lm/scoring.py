"""Scoring lines with a trained language model: log-probability, token counts, perplexity."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from seq2seq.core.vocabulary import TokenVocabulary
from seq2seq.models.language_model import RNNLanguageModel, build_scorer


@dataclasses.dataclass(frozen=True)
class LineScore:
    """The score of one line: natural-log probability of its tokens and `<eos>`."""

    log_prob: float
    tokens: int  # predicted tokens: words (or characters) plus <eos>
    unknown: int  # tokens that were outside the vocabulary and scored as <unk>

    @property
    def perplexity(self) -> float:
        return math.exp(-self.log_prob / self.tokens)


def score_lines(
    model: RNNLanguageModel, vocab: TokenVocabulary, lines: Sequence[str], batch_size: int = 64
) -> list[LineScore]:
    """Scores every line independently (from a zero state); one result per line, in order.

    Lines are tokenized by the tf.data pipeline and scored in padded batches
    of lines of similar length (the order of the results is the input order).
    """
    import tensorflow as tf

    from pipelines import lm as lm_pipeline
    from pipelines.text import tokenize

    if not lines:
        return []
    order = np.argsort([len(line) for line in lines], kind="stable")
    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant([lines[i] for i in order], tf.string))
        .apply(tokenize(vocab))
        .apply(lm_pipeline.next_token_pairs(vocab))
        .apply(lm_pipeline.sentence_batches(batch_size))
        .prefetch(2)
    )
    scorer = build_scorer(model)
    results: list[LineScore | None] = [None] * len(lines)
    position = 0
    for inputs, targets in dataset:
        log_probs = np.asarray(scorer.predict_on_batch({"inputs": inputs, "targets": targets}))
        targets = targets.numpy()
        sums = log_probs.astype(np.float64).sum(axis=1)
        counts = (targets != vocab.pad_id).sum(axis=1)
        unknown = (targets == vocab.unk_id).sum(axis=1)
        for row in range(len(sums)):
            results[order[position]] = LineScore(float(sums[row]), int(counts[row]), int(unknown[row]))
            position += 1
    return results


def corpus_score(scores: Sequence[LineScore]) -> LineScore:
    """All lines together (perplexity = exp of the mean negative log-probability per token)."""
    return LineScore(sum(s.log_prob for s in scores), sum(s.tokens for s in scores), sum(s.unknown for s in scores))
