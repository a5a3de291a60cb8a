"""`LanguageModel`: a trained language model for programs: scoring lines and sampling text."""

from __future__ import annotations

import os
from collections.abc import Sequence

from seq2seq.lm.generation import generate
from seq2seq.lm.scoring import LineScore, corpus_score, score_lines


class LanguageModel:
    """A loaded language model (`LanguageModel.load(name_or_path)`): `score` lines, `generate` text.

    Args:
        model, vocab: from :func:`seq2seq.model_dirs.load_language_model`.
    """

    def __init__(self, model, vocab):
        self.model, self.vocab = model, vocab

    @classmethod
    def load(cls, model: str | os.PathLike) -> LanguageModel:
        """The language model in a model directory, or the installed model of that name (see seq2seq.catalog)."""
        from seq2seq.model_dirs import load_language_model

        return cls(*load_language_model(model))

    def score(self, lines: Sequence[str], batch_size: int = 64) -> list[LineScore]:
        """Each line's natural-log probability (`log_prob`), its token count and `perplexity`, in order."""
        return score_lines(self.model, self.vocab, lines, batch_size)

    def perplexity(self, lines: Sequence[str]) -> float:
        """The perplexity of all lines together (each scored from a fresh state)."""
        return corpus_score(self.score(lines)).perplexity

    def generate(self, prompt: str = "", **options) -> list[str]:
        """Samples continuations of `prompt` (the same seed gives the same samples).

        `options` are those of :func:`seq2seq.lm.generation.generate`:
        `max_tokens` (50), `temperature` (1.0), `top_k` (None), `seed` (0),
        `num_samples` (1).
        """
        return generate(self.model, self.vocab, prompt, **options)
