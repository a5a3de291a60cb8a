"""Transcribing recordings and captioning images with a trained perception model."""

from __future__ import annotations

import numpy as np

from seq2seq.core.searcher import Searcher
from seq2seq.core.vocabulary import Vocabulary

MAX_WORDS = 32  # the longest output: FSDD utterances have at most 7 words (plus <eos>), captions 13


def pad(inputs: list[np.ndarray]) -> np.ndarray:
    """Arrays of equal trailing shape, zero-padded along the first axis to the longest (frames; images are equal)."""
    longest = max(len(item) for item in inputs)
    batch = np.zeros((len(inputs), longest) + inputs[0].shape[1:], np.float32)
    for row, item in enumerate(inputs):
        batch[row, : len(item)] = item
    return batch


class Recognizer:
    """Decodes feature inputs (log-mel frames or images) into word sequences with greedy or beam search.

    Inputs are decoded in batches of `batch_size`, padded to the longest in
    the batch (all-zero frames, which the audio encoder masks), in one
    compiled graph for every batch shape (`Searcher`'s `input_spec`).
    """

    def __init__(self, model, vocab: Vocabulary, beam_size: int = 1, alpha: float = 0.0):
        self.model, self.vocab = model, vocab
        encoder = model.encoder
        features = (
            (None, encoder.features)
            if model.source["input"] == "audio"
            else (encoder.image_size, encoder.image_size, encoder.channels)
        )
        self.searcher = Searcher(
            model,
            vocab.eos_id,
            beam_size=beam_size,
            alpha=alpha,
            max_length=MAX_WORDS,
            input_spec=((None,) + features, "float32"),
        )

    def decode(self, inputs: list[np.ndarray], batch_size: int = 64) -> list[str]:
        """One line of words per input, in input order."""
        order = sorted(range(len(inputs)), key=lambda index: len(inputs[index]))  # similar lengths together
        outputs = [""] * len(inputs)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            tokens = self.searcher.search(pad([inputs[index] for index in rows]))["tokens"][:, 0]
            for index, ids in zip(rows, tokens):
                outputs[index] = self.vocab.decode(ids)
        return outputs
