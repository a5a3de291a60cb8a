"""Run by tests/test_kills.py: a training command that a signal stops at a named point of its second epoch.

`python tests/kill_run.py PHASE SIGNAL ARGV...` patches the toolkit so that
the process sends itself SIGNAL (KILL, INT or TERM) at PHASE of epoch 2,
then runs `seq2seq ARGV...` (for example `train toy.yaml`) and exits with
its status. SIGKILL is the real thing: no `finally` block, no cleanup. The
phases (see PHASES) cover every moment with something to lose: training
steps, validation BLEU, each file an epoch end writes, and the renames of
the backup folder.
"""

import os
import signal
import sys
from pathlib import Path

import keras

from seq2seq import backup, callbacks
from seq2seq.cli import main

PHASE, SIGNAL, ARGV = sys.argv[1], getattr(signal, f"SIG{sys.argv[2]}"), sys.argv[3:]
EPOCH = 1  # the second epoch, counted from 0 as Keras does


def stop():
    os.kill(os.getpid(), SIGNAL)  # SIGINT and SIGTERM: Python raises at the next bytecode


def after(owner, name, condition):
    """Stops right after `owner.name(...)` returns when `condition(self, *args)` holds."""
    original = getattr(owner, name)

    def patched(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        if condition(self, *args):
            stop()
        return result

    setattr(owner, name, patched)


def before(owner, name, condition):
    """Stops as `owner.name(...)` is called when `condition(self, *args)` holds."""
    original = getattr(owner, name)

    def patched(self, *args, **kwargs):
        if condition(self, *args):
            stop()
        return original(self, *args, **kwargs)

    setattr(owner, name, patched)


def half_written(owner, name, marker):
    """The second `owner.name(path)` call with `marker` in the path (epoch 2's) writes half its file, then stops."""
    original = getattr(owner, name)
    calls = []

    def patched(self, path, *args, **kwargs):
        result = original(self, path, *args, **kwargs)
        if marker in str(path):
            calls.append(path)
            if len(calls) == 2:
                data = Path(path).read_bytes()
                Path(path).write_bytes(data[: len(data) // 2])
                stop()
        return result

    setattr(owner, name, patched)


def epoch_is(self, epoch, *rest):
    return epoch == EPOCH


def second_epoch_step(self, batch, *rest):
    return getattr(self, "_epoch", None) == EPOCH and batch == 1


PHASES = {
    "train-step": lambda: after(callbacks.StopOnNaN, "on_train_batch_end", second_epoch_step),
    "validation-bleu": lambda: before(callbacks.ValidationScore, "evaluate", epoch_is),
    "validation-logged": lambda: after(callbacks.ValidationScore, "evaluate", epoch_is),
    "checkpoint-write": lambda: half_written(keras.Model, "save_weights", "/.epoch-0"),
    "checkpoint-written": lambda: after(callbacks.EpochCheckpoints, "on_epoch_end", epoch_is),
    "best-model-write": lambda: half_written(keras.Model, "save", "/.model."),
    "history-written": lambda: after(keras.callbacks.CSVLogger, "on_epoch_end", epoch_is),
    "backup-write": lambda: half_written(keras.Model, "save_weights", "/.backup."),
    "backup-written": lambda: after(backup.AtomicBackupAndRestore, "on_epoch_end", epoch_is),
}


def between_backup_renames():
    """Stops after the old backup folder is renamed aside and before the new one takes its place."""
    original = os.replace

    def replace(source, destination):
        original(source, destination)
        if Path(destination).name == ".backup.old":
            stop()

    os.replace = replace


PHASES["backup-renames"] = between_backup_renames
PHASES[PHASE]()
sys.exit(main(ARGV))
