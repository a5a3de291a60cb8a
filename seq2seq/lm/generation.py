"""Sampling text from a trained language model, through the shared compiled search."""

from __future__ import annotations

import numpy as np
from keras import ops

from seq2seq.core.searcher import Searcher
from seq2seq.core.vocabulary import TokenVocabulary
from seq2seq.models.language_model import RNNLanguageModel


class GenerationRules:
    """A language model as a searchable model, with the rule of free character-level generation.

    At character level a line ends in `<eos>` and the next begins with
    `<bos>`, as in training, so generation runs on across lines: after
    `<eos>` the model is fed `<bos>`. (That `<pad>` and `<bos>` are never
    generated is the search's own rule, for every model.)

    Args:
        model: the language model.
        vocab: its vocabulary.
    """

    def __init__(self, model: RNNLanguageModel, vocab: TokenVocabulary):
        self.model = model
        self.continuous = vocab.level == "char"
        self.bos_id, self.eos_id = vocab.bos_id, vocab.eos_id

    def encode(self, prompt_ids):
        return self.model.encode(prompt_ids)

    def decode_step(self, token_ids, carry, context):
        if self.continuous:
            token_ids = ops.where(ops.equal(token_ids, self.eos_id), self.bos_id, token_ids)
        return self.model.decode_step(token_ids, carry, context)


def generate(
    model: RNNLanguageModel,
    vocab: TokenVocabulary,
    prompt: str = "",
    max_tokens: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    num_samples: int = 1,
) -> list[str]:
    """Samples continuations of `prompt`; the same seed gives the same samples.

    Word- and subword-level samples end at `<eos>` (a sentence each, at most
    `max_tokens` tokens); character-level ones treat `<eos>` as a line break
    and run for `max_tokens` characters. All samples are drawn in one batch by
    :class:`~seq2seq.core.search.Searcher`: one compiled loop, traced once per call.
    """
    prompt_ids = [vocab.bos_id] + vocab.encode(prompt)
    inputs = np.tile(np.array(prompt_ids, "int32"), (num_samples, 1))  # (samples, prompt)
    searcher = Searcher(
        GenerationRules(model, vocab),
        eos_id=-1 if vocab.level == "char" else vocab.eos_id,
        max_length=max_tokens,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
    )
    tokens = searcher.search(inputs)["tokens"][:, 0, :]  # (samples, max_tokens)
    separator = "" if vocab.level == "char" else " "
    return [separator.join(part for part in (prompt, vocab.decode(row)) if part) for row in tokens]
