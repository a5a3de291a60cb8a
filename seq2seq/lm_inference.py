"""Using a trained language model: scoring lines and sampling text."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from seq2seq.language_model import RNNLanguageModel, build_scorer
from seq2seq.vocab import Vocabulary


@dataclasses.dataclass(frozen=True)
class LineScore:
    """The score of one line: natural-log probability of its tokens and `<eos>`."""

    log_prob: float
    tokens: int  # predicted tokens: words (or characters) plus <eos>
    unknown: int  # tokens that were outside the vocabulary and scored as <unk>

    @property
    def perplexity(self) -> float:
        return math.exp(-self.log_prob / self.tokens)


def score_lines(model: RNNLanguageModel, vocab: Vocabulary, lines: Sequence[str],
                batch_size: int = 64) -> list[LineScore]:
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
    dataset = (tf.data.Dataset.from_tensor_slices(tf.constant([lines[i] for i in order], tf.string))
               .apply(tokenize(vocab))
               .apply(lm_pipeline.next_token_pairs(vocab))
               .apply(lm_pipeline.sentence_batches(batch_size))
               .prefetch(2))
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
    return LineScore(sum(s.log_prob for s in scores), sum(s.tokens for s in scores),
                     sum(s.unknown for s in scores))


def sample_tokens(logits: np.ndarray, rng: np.random.Generator, temperature: float,
                  top_k: int | None) -> np.ndarray:
    """One token id per row of `logits` `(batch, vocab)`, from softmax(logits / temperature)."""
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = np.partition(scaled, -top_k, axis=-1)[:, -top_k][:, None]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    scaled -= scaled.max(axis=-1, keepdims=True)
    probs = np.exp(scaled)
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(row), p=row) for row in probs])


def generate(model: RNNLanguageModel, vocab: Vocabulary, prompt: str = "", max_tokens: int = 50,
             temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
             num_samples: int = 1) -> list[str]:
    """Samples continuations of `prompt`; the same seed gives the same samples.

    Word- and subword-level samples end at `<eos>` (a sentence each); character-level ones
    treat `<eos>` as a line break and run for `max_tokens` characters.
    """
    rng = np.random.default_rng(seed)
    prompt_ids = [vocab.bos_id] + vocab.encode(prompt)
    inputs = np.tile(np.array(prompt_ids, "int32"), (num_samples, 1))  # (samples, prompt)
    logits, state = model(inputs, return_state=True)
    last = np.array(logits[:, -1, :])  # (samples, vocab)
    never = [vocab.pad_id, vocab.bos_id]
    generated = np.zeros((num_samples, 0), "int64")
    finished = np.zeros(num_samples, bool)
    for step in range(max_tokens):
        last[:, never] = -np.inf
        tokens = np.where(finished, vocab.pad_id, sample_tokens(last, rng, temperature, top_k))
        generated = np.concatenate([generated, tokens[:, None]], axis=1)
        if vocab.level != "char":
            finished |= tokens == vocab.eos_id
            if finished.all():
                break
        if step == max_tokens - 1:
            break
        # A line ends in <eos> and the next begins with <bos>, as in training.
        next_inputs = np.where(tokens == vocab.eos_id, vocab.bos_id, tokens)
        logits, state = model(next_inputs[:, None].astype("int32"), initial_state=state, return_state=True)
        last = np.array(logits[:, -1, :])
    separator = "" if vocab.level == "char" else " "
    texts = []
    for row in generated:
        continuation = vocab.decode(row)
        texts.append(separator.join(part for part in (prompt, continuation) if part))
    return texts
