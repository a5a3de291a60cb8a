"""Validation measures of training runs and perception reports: corpus BLEU (sacrebleu), word error rate (jiwer)."""

from __future__ import annotations


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """sacreBLEU (cased, detokenized, 13a) of one set."""
    from sacrebleu.metrics import BLEU

    return BLEU().corpus_score(hypotheses, [references]).score


def word_error_rate(hypotheses: list[str], references: list[str]) -> float:
    """Word error rate in percent (jiwer: substitutions, deletions and insertions over reference words)."""
    import jiwer

    return 100.0 * jiwer.wer(references, hypotheses)


METRICS = {"bleu": ("BLEU", corpus_bleu), "wer": ("WER", word_error_rate)}  # name -> (label, scorer)
