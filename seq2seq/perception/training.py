"""Training a speech recogniser or an image captioner: the translator's model, loss, callbacks and resume."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from seq2seq.callbacks import EpochNumber, Throughput, ValidationScore
from seq2seq.core.vocabulary import Vocabulary
from seq2seq.model_dirs import load_perception_model, save_perception_model
from seq2seq.models.encoder_decoder import build_model
from seq2seq.perception.config import PerceptionConfig
from seq2seq.perception.data import batches, build_vocabulary, check_data, examples, source_spec
from seq2seq.perception.recognizer import Recognizer
from seq2seq.runner import Task, TaskData, train

VOCABULARY = "vocab.json"


def run_vocabulary(run_dir: Path, transcripts: list[str]) -> Vocabulary:
    """The run's word vocabulary: `run_dir/vocab.json`, built from the training transcripts on the first start."""
    path = run_dir / VOCABULARY
    if path.is_file():
        return Vocabulary.load(path)
    vocab = build_vocabulary(transcripts)
    run_dir.mkdir(parents=True, exist_ok=True)
    vocab.save(path)
    return vocab


class PerceptionTask(Task):
    """Speech recognition or captioning: the encoder-decoder on frames or images, word error rate by greedy search.

    The same loop as translation: label-smoothed cross-entropy, the shared
    callbacks (resume backup, learning-rate decay, early stopping,
    checkpoints), with the word error rate of greedy search on the
    validation split as the measure that picks the best model
    (`training.select_by: wer`). One device only.
    """

    name = "perception"

    def check(self, config: PerceptionConfig) -> None:
        super().check(config)
        check_data(config)

    def prepare(self, config: PerceptionConfig, run_dir: Path, chief: bool) -> TaskData:
        print(
            f"{config.data.task}: preparing {config.data.train_examples} training and "
            f"{config.data.valid_examples} validation examples",
            flush=True,
        )
        train_examples, valid_examples = examples(config, "train"), examples(config, "valid")
        vocab = run_vocabulary(run_dir, train_examples.transcripts)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        train = batches(config, train_examples, vocab, epoch=epoch)
        valid = batches(config, valid_examples, vocab)
        return TaskData(train, valid, (vocab,), epoch, {"valid_examples": valid_examples})

    def build(self, config: PerceptionConfig, data: TaskData):
        model = build_model(config.model, 0, len(data.vocabularies[0]), source_spec(config))
        model.build()
        return model

    def load(self, directory: str) -> tuple:
        return load_perception_model(directory)

    def selection(self, config: PerceptionConfig) -> tuple[str, str]:
        return ("val_wer" if config.training.select_by == "wer" else "val_loss"), "min"

    def measurements(self, model, config, data: TaskData, run_dir: Path, keep_best, chief: bool) -> list:
        valid = data.extra["valid_examples"]
        return [
            EpochNumber(data.epoch),
            Throughput(),
            ValidationScore(
                Recognizer(model, data.vocabularies[0]).decode,
                [("valid", valid.inputs, valid.transcripts)],
                log_file=run_dir / "validation_wer.jsonl",
                tensorboard_dir=run_dir / "tensorboard",
                print_fn=lambda text: print(text, flush=True),
                metric="wer",
            ),
        ]

    def export(self, model_dir: Path, model, config, data: TaskData, epoch: int, logs: dict) -> None:
        metrics = {"epoch": epoch + 1, **{name: float(logs[name]) for name in ("val_loss", "val_wer") if name in logs}}
        save_perception_model(model_dir, model, data.vocabularies[0], config, metrics)


def train_perception_model(config: PerceptionConfig) -> Path:
    """Trains (or resumes) the experiment in `config.run_dir`; returns the best model's directory."""
    return train(PerceptionTask(), config)
