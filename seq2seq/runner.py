"""One training loop for every task: language models, translation, speech recognition, captioning.

A :class:`Task` supplies what differs between the kinds of model: its
checks, its data and vocabularies (:class:`TaskData`), how its model is built
and compiled, which measure picks the best model, the measurements of each
epoch, how the best model is saved, and what happens after the last epoch.
:func:`train` does the rest, the same way for every task:

1. `@training_run` (:mod:`seq2seq.run_folder`): the run folder's lock, the
   same-experiment check, the roll-back to the resume backup, the seeds;
2. the `tf.distribute` strategy, first (collective ops must be set up before
   any other TensorFlow op), for the tasks that can be distributed;
3. the task's data and vocabularies, then `config.yaml` in the run folder;
4. the precision policy, the model under the strategy's scope, the warm start
   from `training.init_from` (:func:`seq2seq.training.warm_start`), compile;
5. the callbacks in the order that keeps resume exact
   (:func:`seq2seq.training.standard_callbacks`): the task's measurements,
   epoch checkpoints, the best-model export, early stopping, the logs and,
   last, the resume backup;
6. `fit`, then the task's finish and the training curves beside the best model.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import warnings
from pathlib import Path
from typing import Any

import keras

from seq2seq import config as config_lib
from seq2seq.callbacks import EpochCheckpoints, KeepBest
from seq2seq.errors import UserError
from seq2seq.run_folder import training_run
from seq2seq.training import (
    configure_precision,
    cudnn_warning,
    progress_verbosity,
    standard_callbacks,
    warm_start,
)


@dataclasses.dataclass
class TaskData:
    """What a task prepares before its model is built.

    Attributes:
        train, valid: the datasets `fit` reads (tf.data, batched).
        vocabularies: the run's vocabularies, in the order the task's model
            directories hold them (a warm start compares them).
        epoch: a variable the pipeline reads for each epoch's shuffle and
            mixing seeds (set by :class:`~seq2seq.callbacks.EpochNumber`), or None.
        extra: anything else the task's own steps need (a corpus, examples).
    """

    train: Any
    valid: Any
    vocabularies: tuple
    epoch: Any = None
    extra: dict = dataclasses.field(default_factory=dict)


class Task:
    """What differs between the kinds of model; see the module doc for what :func:`train` does with it.

    Attributes:
        name: the kind of model, in messages.
        sections: the config sections that make the experiment (a resume with
            other values there is refused; `training` may change).
        distributed: whether `training.distribute` may be other than none.
    """

    name: str = "model"
    sections: tuple[str, ...] = ("data", "model")
    distributed: bool = False

    def check(self, config) -> None:
        """Refuses what this task cannot train, before anything is read or written."""
        if not self.distributed and config.training.distribute != "none":
            raise UserError(
                f"training.distribute={config.training.distribute!r}: {self.name} training runs on one device; "
                "set training.distribute: none."
            )

    def prepare(self, config, run_dir: Path, chief: bool) -> TaskData:
        raise NotImplementedError

    def cores(self, config) -> dict:
        """`{key: RNNConfig}` of the recurrent cores the cuDNN check looks at."""
        return {}

    def build(self, config, data: TaskData) -> keras.Model:
        """The model, built (weights created)."""
        raise NotImplementedError

    def load(self, directory: str) -> tuple:
        """`(model, *vocabularies)` of a saved model directory of this task (for `training.init_from`)."""
        raise NotImplementedError

    def compile(self, model: keras.Model, config) -> None:
        from seq2seq.training import compile_model

        compile_model(model, config)

    def selection(self, config) -> tuple[str, str]:
        """`(monitor, mode)`: the logged measure that picks the best model and stops early."""
        return "val_loss", "min"

    def measurements(self, model, config, data: TaskData, run_dir: Path, keep_best, chief: bool) -> list:
        """The task's callbacks before the epoch checkpoints and the best-model export."""
        return []

    def export(self, model_dir: Path, model, config, data: TaskData, epoch: int, logs: dict) -> None:
        """Saves `model` as the run's best model so far (`logs`: the epoch's logged measures)."""
        raise NotImplementedError

    def finish(self, config, data: TaskData, model_dir: Path) -> None:
        """After the last epoch, on the chief: by default, prints the best model's metrics."""
        print("best model:", model_dir, (model_dir / "metrics.json").read_text(), flush=True)


def train(task: Task, config) -> Path:
    """Trains (or resumes) `config`'s experiment in `config.run_dir` as `task`; returns the best model's folder."""
    return training_run(*task.sections)(functools.partial(_run, task))(config)


def _run(task: Task, config, run_dir: Path) -> Path:
    from seq2seq.compat import work_around_keras_multi_worker
    from seq2seq.distribute import is_chief, make_strategy, scope, shard_by_data, worker_folder

    training = config.training
    task.check(config)
    strategy = make_strategy(training.distribute)  # first: collective ops must be set up before any TF op runs
    chief_folder = worker_folder(run_dir, training.distribute) == run_dir
    data = task.prepare(config, run_dir, chief_folder)
    if chief_folder:
        config_lib.save(config, run_dir / "config.yaml")
    configure_precision(training.mixed_precision, announce=True)
    warning = cudnn_warning(task.cores(config))
    if warning:
        print(warning, flush=True)
    with scope(strategy):  # model, optimizer and metrics live on the strategy's devices
        model = task.build(config, data)
        if training.init_from is not None:
            warm_start(model, training.init_from, data.vocabularies, task.load)
        task.compile(model, config)
        if strategy is not None:
            work_around_keras_multi_worker(model, strategy)
    if strategy is not None:
        data.train, data.valid = shard_by_data(data.train), shard_by_data(data.valid)
        print(f"distribute: {training.distribute}, {strategy.num_replicas_in_sync} replicas", flush=True)
    print(f"model: {model.count_params():,} parameters; run folder: {run_dir}", flush=True)
    model_dir = run_dir / "model"
    monitor, mode = task.selection(config)
    chief = is_chief(strategy)
    keep_best = (  # every worker measures (early stopping stays in step); only the chief writes
        KeepBest(
            lambda epoch, logs: task.export(model_dir, model, config, data, epoch, logs),
            run_dir / "best.json",
            monitor=monitor,
            mode=mode,
        )
        if chief
        else None
    )
    measurements = task.measurements(model, config, data, run_dir, keep_best, chief)
    keep = getattr(training, "keep_checkpoints", 0)
    if keep and keep_best is not None:
        measurements.append(EpochCheckpoints(run_dir / "checkpoints", keep))
    if keep_best is not None:
        measurements.append(keep_best)
    callbacks = standard_callbacks(run_dir, training, measurements, stop_monitor=monitor, stop_mode=mode, writes=chief)
    with warnings.catch_warnings():
        # The first epoch discovers the unknown length of a bucketed or generated dataset; Keras warns about it.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            data.train,
            validation_data=data.valid,
            epochs=training.epochs,
            callbacks=callbacks,
            shuffle=False,
            verbose=progress_verbosity(),
        )
    if not chief:
        return model_dir
    task.finish(config, data, model_dir)
    if (run_dir / "history.csv").exists() and model_dir.exists():  # training curves for reports on the model
        shutil.copyfile(run_dir / "history.csv", model_dir / "history.csv")
    return model_dir
