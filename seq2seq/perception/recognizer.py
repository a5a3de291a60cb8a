"""Transcribing recordings and captioning images with a trained perception model."""

from __future__ import annotations

import os
from collections.abc import Sequence

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

    def __init__(self, model, vocab: Vocabulary, beam_size: int = 1, alpha: float = 0.0, config=None):
        self.model, self.vocab, self.config = model, vocab, config
        self.task = model.source["input"]  # "audio" or "image"
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

    @classmethod
    def load(cls, model: str | os.PathLike, beam_size: int = 5, alpha: float = 0.0) -> Recognizer:
        """The speech or captioning model in a model directory, or the installed model of that name."""
        from seq2seq.catalog import resolve
        from seq2seq.model_dirs import load_perception_model, saved_config
        from seq2seq.perception.config import PerceptionConfig

        directory = resolve(model)
        network, vocab = load_perception_model(directory)
        config = saved_config(directory, PerceptionConfig)  # how its features were computed (None: the defaults)
        return cls(network, vocab, beam_size, alpha, config)

    def read(self, path: str, note=None):
        """The model's input from a WAV file (speech) or an image file (captions); `UserError` if unreadable."""
        from seq2seq.perception.inputs import read_image, read_recording, stderr_note

        reader = read_recording if self.task == "audio" else read_image
        return reader(path, self.model.encoder, self.config, note or stderr_note)

    def transcribe(self, paths: Sequence[str], batch_size: int = 64) -> list[str]:
        """The words of each recording (speech models) or each image's caption (captioning models), in order."""
        return self.decode([self.read(path) for path in paths], batch_size)

    caption = transcribe

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
