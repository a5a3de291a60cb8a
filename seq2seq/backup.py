"""The resume backup of a training run: atomic, complete, and the commit point of every epoch.

See :func:`seq2seq.training.standard_callbacks` for where it sits among the
callbacks and :func:`seq2seq.run_folder.roll_back` for what a resumed run
undoes of an epoch the backup does not hold.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras

from seq2seq.compat import ema_weights_in_model, swap_ema_weights
from seq2seq.outputs import atomic_directory, recover_directory


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, replaced whole and atomically, holding the callbacks' counters too.

    Keras writes `latest.weights.h5` and `training_metadata.json` in place,
    so a process killed while saving leaves a truncated HDF5 file (or weights
    and epoch counter of different epochs) that no later run can load. Here
    both files are written into a new folder that replaces the old one only
    when complete (:func:`~seq2seq.outputs.atomic_directory`); the previous
    backup stays usable until then, and what a kill inside the replacement
    leaves is undone when training starts (:func:`~seq2seq.outputs.recover_directory`).

    Args:
        backup_dir: the backup folder.
        stateful: callbacks whose counters (`wait`, `best`, `best_epoch`,
            `cooldown_counter`: `EarlyStopping`, `ReduceLROnPlateau`) go into
            `training_metadata.json` and are restored on resume, so that
            patience counts on from where the stopped run was (unless the
            callback now watches another measure, e.g. `training.select_by`
            changed: then it starts afresh).
        ema: the :class:`EMAForValidation` callback when the weights are
            averaged: the backup is written at the end of the epoch, while the
            average is in the model, so the raw weights are swapped back in
            for the save (and out again after), and a resumed run trains on.
    """

    STATE = ("wait", "best", "best_epoch", "cooldown_counter")

    def __init__(self, backup_dir: str, stateful=(), ema: EMAForValidation | None = None):
        super().__init__(backup_dir, delete_checkpoint=False)
        self.stateful = {type(callback).__name__: callback for callback in stateful}
        self.ema = ema

    def on_train_begin(self, logs=None):
        recover_directory(self.backup_dir)
        super().on_train_begin(logs)  # after every other callback's on_train_begin (it is the last one)
        metadata = Path(self.backup_dir) / "training_metadata.json"
        if metadata.is_file():
            states = json.loads(metadata.read_text(encoding="utf-8")).get("callbacks", {})
            for name, state in states.items():
                callback = self.stateful.get(name)
                watched = getattr(callback, "monitor", None)  # a backup without "monitor" predates it: the same
                if callback is None or state.get("monitor", watched) != watched:
                    continue  # counters of another measure (training.select_by changed): start afresh
                for key in self.STATE:
                    value = state.get(key)
                    setattr(callback, key, float(value) if isinstance(value, str) else value)

    def _states(self) -> dict:
        """The counters of `stateful`, as valid JSON (non-finite floats as the strings "inf", "-inf")."""
        states = {}
        for name, callback in self.stateful.items():
            state = {}
            for key in self.STATE:
                value = getattr(callback, key, None)
                if value is None or isinstance(value, (bool, int)):
                    state[key] = value
                else:
                    value = float(value)
                    state[key] = value if math.isfinite(value) else str(value)
            states[name] = {**state, "monitor": getattr(callback, "monitor", None)}
        return states

    def on_epoch_end(self, epoch, logs=None):
        """Writes the backup of the finished epoch `epoch` (0-based) in place of Keras' in-place save."""
        swapped = self.ema is not None and ema_weights_in_model(self.ema)
        if swapped:
            swap_ema_weights(self.ema)  # raw weights into the model, the average into the optimizer
        try:
            with atomic_directory(self.backup_dir) as temporary:
                self.model.save_weights(str(temporary / "latest.weights.h5"), overwrite=True)
                with open(temporary / "training_metadata.json", "w", encoding="utf-8") as handle:
                    json.dump({"epoch": epoch + 1, "batch": 0, "callbacks": self._states()}, handle)
        finally:
            if swapped:
                swap_ema_weights(self.ema)


class EMAForValidation(keras.callbacks.SwapEMAWeights):
    """Keras' `SwapEMAWeights(swap_on_epoch=True)`: the weight average is in the model for validation and epoch end.

    Keras also copies the average over the raw weights at the end of the
    last epoch; this callback does not, so the last backup, like every other,
    holds the raw weights and a longer run resumes from it exactly. After
    `fit` the model therefore holds the raw weights; the best model, exported
    at epoch ends, holds the average.
    """

    def __init__(self):
        super().__init__(swap_on_epoch=True)

    def on_epoch_end(self, epoch, logs=None):
        if not ema_weights_in_model(self):
            swap_ema_weights(self)
