"""Training a language model: truncated back-propagation through time on a token stream."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import numpy as np

from pipelines import lm as lm_pipeline
from pipelines.text import read_text_lines, tokenize
from seq2seq.callbacks import ResetStates, Throughput
from seq2seq.core.likelihood import MaskedCrossEntropy, Perplexity
from seq2seq.core.subwords import SubwordVocabulary
from seq2seq.core.vocabulary import TokenVocabulary, Vocabulary
from seq2seq.documents import json_text
from seq2seq.errors import UserError
from seq2seq.lm.config import LMConfig
from seq2seq.model_dirs import (
    copy_model,
    load_language_model,
    load_vocabulary,
    save_language_model,
    vocabulary_file_name,
)
from seq2seq.models.language_model import RNNLanguageModel, build_model
from seq2seq.runner import Task, TaskData, train
from seq2seq.textio import read_lines
from seq2seq.training import make_optimizer


class LMCorpus:
    """The train, validation and (optional) test text of a language-model config.

    Files are checked as UTF-8 once (errors name file and line); the token
    streams themselves are read by tf.data.
    """

    def __init__(self, data_config):
        self.config = data_config
        train = data_config.path(data_config.train)
        lines = read_lines(train)
        if not lines:
            raise UserError(f"{train}: the training file is empty.")
        self.train_path = train
        if data_config.valid is None:
            held_out = max(1, int(len(lines) * data_config.valid_fraction))
            self.train_lines, self.valid_lines = len(lines) - held_out, held_out
            self.valid_path = train
            self.vocab_lines = lines[: self.train_lines]
        else:
            self.valid_path = data_config.path(data_config.valid)
            self.train_lines, self.valid_lines = len(lines), len(read_lines(self.valid_path))
            self.vocab_lines = lines
        self.test_path = data_config.path(data_config.test)
        if self.test_path is not None:
            read_lines(self.test_path)

    def build_vocabulary(self):
        if self.config.level == "subword":
            return SubwordVocabulary.load(self.config.subword_model)
        return Vocabulary.build(
            self.vocab_lines, self.config.level, self.config.max_vocab_size, self.config.min_frequency
        )

    def windows(self, split: str, vocab: TokenVocabulary, batch_size: int, window_length: int):
        """The split as `(inputs, targets)` windows of shape `(batch, window)`."""
        if split == "train":
            lines = read_text_lines([self.train_path]).take(self.train_lines)
            name = str(self.train_path)
        elif split == "valid" and self.config.valid is None:
            lines = read_text_lines([self.valid_path]).skip(self.train_lines)
            name = f"{self.valid_path} (last {self.valid_lines} lines)"
        else:
            path = self.valid_path if split == "valid" else self.test_path
            lines, name = read_text_lines([path]), str(path)
        return (
            lines.apply(tokenize(vocab))
            .apply(lm_pipeline.next_token_pairs(vocab))
            .apply(lm_pipeline.stream_windows(batch_size, window_length, name))
        )


def compile_for_stream(model: keras.Model, optimizer="adam") -> None:
    model.compile(optimizer=optimizer, loss=MaskedCrossEntropy(), metrics=[Perplexity()])


def stateful_copy(model: RNNLanguageModel, batch_size: int, window_length: int) -> RNNLanguageModel:
    """The same weights in a stateful model with a fixed batch size (and the model's own dtype policy)."""
    return copy_model(model, model.dtype_policy.name, stateful=True, input_shape=(batch_size, window_length))


def stream_perplexity(model: RNNLanguageModel, windows, batch_size: int, window_length: int) -> float:
    """Perplexity over a whole token stream, the state carried between windows."""
    stateful = stateful_copy(model, batch_size, window_length)
    compile_for_stream(stateful)
    stateful.reset_states()
    results = stateful.evaluate(windows, verbose=0, return_dict=True)
    return float(results["perplexity"])


class LanguageModelTask(Task):
    """A language model: token-stream windows, a stateful model, stream perplexity at the end."""

    name = "language model"

    def check(self, config: LMConfig) -> None:
        if config.training.distribute != "none":
            raise UserError(
                f"training.distribute={config.training.distribute}: language models train on one device for now "
                "(their state is carried across batches); use distribute: none."
            )

    def prepare(self, config: LMConfig, run_dir: Path, chief: bool) -> TaskData:
        training = config.training
        corpus = LMCorpus(config.data)  # bad text fails here, before anything is printed or written
        vocab_file = run_dir / vocabulary_file_name(config.data.level)
        if vocab_file.exists():
            vocab = load_vocabulary(vocab_file)
        else:
            vocab = corpus.build_vocabulary()
            vocab.save(vocab_file)
        batch, window = training.batch_size, training.window_length
        train = corpus.windows("train", vocab, batch, window)
        if training.steps_per_epoch is not None:
            train = train.take(training.steps_per_epoch)
        valid = corpus.windows("valid", vocab, batch, window)
        print(
            f"vocabulary: {len(vocab)} {vocab.level} tokens; train: {corpus.train_lines} lines, "
            f"{int(train.cardinality())} windows of {batch}x{window} tokens; run folder: {run_dir}",
            flush=True,
        )
        return TaskData(train, valid, (vocab,), extra={"corpus": corpus})

    def cores(self, config: LMConfig) -> dict:
        return {"model.rnn": config.model.rnn}

    def build(self, config: LMConfig, data: TaskData) -> keras.Model:
        model = build_model(config.model, len(data.vocabularies[0]), stateful=True)
        model(np.zeros((config.training.batch_size, config.training.window_length), "int32"))
        return model

    def load(self, directory: str) -> tuple:
        return load_language_model(directory)

    def compile(self, model: keras.Model, config: LMConfig) -> None:
        training = config.training
        compile_for_stream(
            model, make_optimizer(training.optimizer, training.learning_rate, training.clip_norm, training.ema_momentum)
        )

    def measurements(self, model, config: LMConfig, data: TaskData, run_dir: Path, keep_best, chief: bool) -> list:
        return [ResetStates(), Throughput(config.training.batch_size * config.training.window_length)]

    def export(self, model_dir: Path, model, config: LMConfig, data: TaskData, epoch: int, logs: dict) -> None:
        metrics = {
            "epoch": epoch + 1,
            "valid_perplexity": float(logs["val_perplexity"]),
            "train_perplexity": float(logs["perplexity"]),
        }
        save_language_model(model_dir, model, data.vocabularies[0], config, metrics)

    def finish(self, config: LMConfig, data: TaskData, model_dir: Path) -> None:
        finish(config, data.extra["corpus"], data.vocabularies[0], model_dir)


def train_language_model(config: LMConfig) -> Path:
    """Trains (or resumes) the experiment in `config.run_dir`; returns the best model's directory."""
    return train(LanguageModelTask(), config)


def finish(config: LMConfig, corpus: LMCorpus, vocab: TokenVocabulary, model_dir: Path) -> Path:
    """Adds stream perplexities of the best model (valid, test) to its metrics.json."""
    from seq2seq.model_dirs import load_language_model

    best, _ = load_language_model(model_dir)
    batch, window = config.training.batch_size, config.training.window_length
    metrics = json.loads((model_dir / "metrics.json").read_text())
    metrics["valid_perplexity"] = stream_perplexity(best, corpus.windows("valid", vocab, batch, window), batch, window)
    if corpus.test_path is not None:
        metrics["test_perplexity"] = stream_perplexity(
            best, corpus.windows("test", vocab, batch, window), batch, window
        )
    if vocab.level == "char":
        metrics["valid_nats_per_char"] = math.log(metrics["valid_perplexity"])
    save_language_model(model_dir, best, vocab, config, metrics)
    print("best model:", model_dir, json_text(metrics), flush=True)
    return model_dir
