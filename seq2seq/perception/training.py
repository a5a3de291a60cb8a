"""Training a speech recogniser or an image captioner: the translator's model, loss, callbacks and resume."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import tensorflow as tf

from seq2seq import config as config_lib
from seq2seq.callbacks import EpochCheckpoints, EpochNumber, KeepBest, Throughput, ValidationScore
from seq2seq.core.vocabulary import Vocabulary
from seq2seq.errors import UserError
from seq2seq.model_dirs import load_perception_model, save_perception_model
from seq2seq.models.encoder_decoder import build_model
from seq2seq.perception.config import PerceptionConfig
from seq2seq.perception.data import batches, build_vocabulary, check_data, examples, source_spec
from seq2seq.perception.recognizer import Recognizer
from seq2seq.run_folder import training_run
from seq2seq.training import compile_model, configure_precision, progress_verbosity, standard_callbacks, warm_start

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


@training_run("data", "model")
def train_perception_model(config: PerceptionConfig, run_dir: Path) -> Path:
    """Trains (or resumes) the experiment in `config.run_dir`; returns the best model's directory.

    The same loop as translation (:mod:`seq2seq.translation.training`):
    label-smoothed cross-entropy, the shared callbacks (resume backup,
    learning-rate decay, early stopping, checkpoints), with the word error
    rate of greedy search on the validation split as the measure that picks
    the best model (`training.select_by: wer`). One device only
    (`training.distribute: none`).
    """
    training = config.training
    if training.distribute != "none":
        raise UserError(
            f"training.distribute={training.distribute!r}: perception training runs on one device; "
            "set training.distribute: none."
        )
    check_data(config)
    print(
        f"{config.data.task}: preparing {config.data.train_examples} training and {config.data.valid_examples} "
        "validation examples",
        flush=True,
    )
    train_examples, valid_examples = examples(config, "train"), examples(config, "valid")
    vocab = run_vocabulary(run_dir, train_examples.transcripts)
    config_lib.save(config, run_dir / "config.yaml")
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = batches(config, train_examples, vocab, epoch=epoch)
    valid = batches(config, valid_examples, vocab)
    configure_precision(training.mixed_precision, announce=True)
    model = build_model(config.model, 0, len(vocab), source_spec(config))
    model.build()
    if training.init_from is not None:
        warm_start(model, training.init_from, (vocab,), load_perception_model)
    compile_model(model, config)
    print(f"model: {model.count_params():,} parameters; run folder: {run_dir}", flush=True)
    model_dir = run_dir / "model"

    def export(epoch: int, logs: dict) -> None:
        metrics = {"epoch": epoch + 1, **{name: float(logs[name]) for name in ("val_loss", "val_wer") if name in logs}}
        save_perception_model(model_dir, model, vocab, config, metrics)

    recognizer = Recognizer(model, vocab)
    monitor = "val_wer" if training.select_by == "wer" else "val_loss"
    keep_best = KeepBest(export, run_dir / "best.json", monitor=monitor, mode="min")
    measurements = [
        EpochNumber(epoch),
        Throughput(),
        ValidationScore(
            recognizer.decode,
            [("valid", valid_examples.inputs, valid_examples.transcripts)],
            log_file=run_dir / "validation_wer.jsonl",
            tensorboard_dir=run_dir / "tensorboard",
            print_fn=lambda text: print(text, flush=True),
            metric="wer",
        ),
    ]
    if training.keep_checkpoints:
        measurements.append(EpochCheckpoints(run_dir / "checkpoints", training.keep_checkpoints))
    measurements.append(keep_best)
    callbacks = standard_callbacks(run_dir, training, measurements, stop_monitor=monitor, stop_mode="min")
    with warnings.catch_warnings():  # the first epoch discovers the generator's length; Keras warns about it
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train,
            validation_data=valid,
            epochs=training.epochs,
            callbacks=callbacks,
            shuffle=False,
            verbose=progress_verbosity(),
        )
    if (run_dir / "history.csv").exists() and model_dir.exists():
        shutil.copyfile(run_dir / "history.csv", model_dir / "history.csv")
    print("best model:", model_dir, (model_dir / "metrics.json").read_text(), flush=True)
    return model_dir
