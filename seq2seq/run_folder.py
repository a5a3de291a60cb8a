"""The run folder of a training run: one writer at a time, the same experiment on every resume.

`@training_run(...)` wraps the training loop of every task (:func:`seq2seq.runner.train`).
Before anything in the folder changes it

- refuses a model whose recurrent matrices alone, with their gradients and
  optimizer state, would not fit in this machine's memory (see
  :func:`refuse_what_cannot_fit`);
- takes the folder's lock (`run_dir/.lock`, an `fcntl` lock that the system
  releases when the holding process ends, however it ends, so a killed run
  never blocks the next one); a second `train` on the same folder is refused
  with the process id of the one that holds it;
- refuses a resume backup written by version 0.1 (see :func:`refuse_old_backup`);
- refuses a config whose experiment keys (the model, the data, the
  vocabulary) differ from those of the `config.yaml` already in the folder,
  naming every key that differs (training keys such as `epochs` may change);
- rolls the folder's records back to its resume backup (see :func:`roll_back`);
- seeds Python, NumPy and the backend from `training.seed` (see :func:`seed_everything`);

then calls the trainer with the folder, and puts the global Keras dtype
policy back afterwards. The workers of a `multi_worker` run other than the
chief lock `run_dir/worker-N` instead and skip the checks: the folder is
the chief's (see :func:`seq2seq.distribute.worker_folder`).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
import os
from pathlib import Path

import keras

from seq2seq import config as config_lib
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write, check_writable_place, partial_files, recover_directory
from seq2seq.training import restored_dtype_policy

BACKUP, MODEL = "backup", "model"


@contextlib.contextmanager
def locked(run_dir: Path):
    """Holds `run_dir/.lock` for the block; raises `UserError` naming the holder when another process has it."""
    import fcntl

    check_writable_place(run_dir, inside=True)
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: run_dir is a file, not a folder; set run_dir to a folder.")
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / ".lock", "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UserError(
                f"{run_dir}: the run folder is in use by {holder}; wait until it ends or stop it "
                "(a run that was killed holds no lock), or train in another run_dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        yield run_dir
    finally:
        handle.close()  # releases the lock


def refuse_old_backup(run_dir: Path) -> None:
    """Raises `UserError` when `run_dir` holds a resume backup of version 0.1 (weight layout 1).

    Its optimizer slots are in another order than today's, so it cannot be
    resumed exactly; its epoch checkpoints still average and its model still loads.
    """
    from seq2seq.weight_layouts import LAYOUT, weights_layout

    backup = run_dir / "backup" / "latest.weights.h5"
    try:
        old = backup.is_file() and weights_layout(backup) < LAYOUT
    except OSError as error:  # truncated by a kill during a non-atomic write of an older version
        raise UserError(
            f"{backup}: the resume backup is damaged ({error}). Remove {run_dir / 'backup'} to "
            "restart training in this folder, or train in a new run_dir."
        ) from None
    if old:
        raise UserError(
            f"{run_dir}: this run folder was written by seq2seq 0.1 and cannot be resumed by this "
            "version. Start a new run_dir (set training.init_from to its model folder to keep the "
            "weights); `seq2seq average-checkpoints` still reads its checkpoints."
        )


def _flat(data, prefix: str = "") -> dict:
    if not isinstance(data, dict):
        return {prefix.rstrip("."): data}
    return {key: value for name, item in data.items() for key, value in _flat(item, f"{prefix}{name}.").items()}


def refuse_changed_experiment(run_dir: Path, config, sections: tuple[str, ...]) -> None:
    """Raises `UserError` naming the keys of `sections` in which `config` differs from `run_dir/config.yaml`."""
    saved_file = run_dir / "config.yaml"
    if not saved_file.is_file():
        return
    saved = config_lib.to_dict(config_lib.load(type(config), saved_file))
    current = config_lib.to_dict(config)
    changed = []
    for section in sections:
        before, after = _flat(saved.get(section), f"{section}."), _flat(current.get(section), f"{section}.")
        changed += [key for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
    if changed:
        raise UserError(
            f"{run_dir}: this run folder was trained with another experiment; these keys differ from "
            f"its config.yaml: {', '.join(changed)}. Resume with the same values, or train in a new "
            "run_dir."
        )


def finished_epochs(run_dir: Path) -> int:
    """The number of epochs the resume backup of `run_dir` holds (0 without a backup)."""
    metadata = run_dir / BACKUP / "training_metadata.json"
    if not metadata.is_file():
        return 0
    try:
        epoch = json.loads(metadata.read_text(encoding="utf-8"))["epoch"]
        if isinstance(epoch, int) and epoch >= 0:
            return epoch
    except (ValueError, KeyError, TypeError):
        pass
    raise UserError(
        f"{metadata}: the resume backup is damaged (no epoch count). Remove {run_dir / BACKUP} to "
        "restart training in this folder, or train in a new run_dir."
    )


def _keep_lines(path: Path, keep) -> int:
    """Rewrites `path` (atomically) with the lines `keep(line)` accepts; returns how many were dropped."""
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if keep(line)]
    if len(kept) < len(lines):
        with atomic_write(path) as handle:
            handle.writelines(line if line.endswith("\n") else line + "\n" for line in kept)
    return len(lines) - len(kept)


def _history_row_kept(done: int, header: list[str]):
    column = header.index("epoch") if "epoch" in header else 0

    def keep(line: str) -> bool:
        cells = next(csv.reader(io.StringIO(line)), [])
        if cells == header:
            return True
        try:
            return int(cells[column]) < done  # epochs count from 0 in history.csv
        except (IndexError, ValueError):  # a partial last row
            return False

    return keep


def _validation_entry_kept(done: int):
    def keep(line: str) -> bool:
        try:
            return int(json.loads(line)["epoch"]) <= done  # epochs count from 1 in validation_bleu.jsonl
        except (ValueError, KeyError, TypeError):  # a partial last line
            return False

    return keep


def roll_back(run_dir: Path) -> None:
    """Makes the records of `run_dir` agree with its resume backup, the commit point of every epoch.

    An epoch is finished when the backup holding it is complete: the backup
    is written last at each epoch end (see
    :func:`seq2seq.training.standard_callbacks`), after `history.csv`,
    `validation_bleu.jsonl`, the epoch checkpoint and the best-model choice.
    A process killed before that point redoes the epoch when it resumes, so
    what the killed process wrote for it is removed here: rows of
    `history.csv`, lines of `validation_bleu.jsonl` (or `validation_wer.jsonl`) and `checkpoints/` files
    beyond the backup's epoch, partial files, and the leftovers of an
    interrupted folder replacement (the previous backup or best model is
    put back). The best model and `best.json` stay: they hold an epoch that
    was trained, and the redone epoch (the same data, the same state) is
    offered to the choice again. TensorBoard event files are not rewritten;
    TensorBoard shows the redone epoch's points over the killed one's.
    """
    from seq2seq.callbacks import epoch_checkpoints

    for name in (BACKUP, MODEL):
        recover_directory(run_dir / name)
    done = finished_epochs(run_dir)
    history = run_dir / "history.csv"
    header = next(csv.reader(io.StringIO(history.read_text(encoding="utf-8"))), []) if history.is_file() else []
    dropped = {"history.csv": _keep_lines(history, _history_row_kept(done, header))}
    for name in ("validation_bleu.jsonl", "validation_wer.jsonl"):  # translation's, perception's
        dropped[name] = _keep_lines(run_dir / name, _validation_entry_kept(done))
    checkpoints = run_dir / "checkpoints"
    for path in [p for p in epoch_checkpoints(checkpoints) if int(p.name[6:9]) > done] + partial_files(checkpoints):
        path.unlink()
        dropped[f"checkpoints/{path.name}"] = 1
    dropped = {name: count for name, count in dropped.items() if count}
    if dropped:
        print(
            f"resuming after epoch {done}, the last one the resume backup holds: removed what a stopped run "
            f"wrote of epoch {done + 1} ({', '.join(dropped)})",
            flush=True,
        )


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and the backend.

    TensorFlow cannot combine a global seed of 0 with the tensor seeds the
    translation pipeline gives its per-epoch shuffles (it tests `seed == 0`
    on them in Python), so with seed 0 TensorFlow's global seed is 2**31 - 2
    instead; runs stay reproducible.
    """
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow" and seed % (2**31 - 1) == 0:
        import tensorflow as tf

        tf.random.set_seed(2**31 - 2)


def physical_memory() -> int:
    """This machine's memory in bytes (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def refuse_what_cannot_fit(config) -> None:
    """A `UserError` naming the key when a model's lower-bound size needs more than this machine's memory.

    The bound (see :func:`seq2seq.config.recurrent_weights`): four float32
    copies (weights, gradients, two Adam moments) of the recurrent matrices.
    Checked before anything is built, so `model.encoder.units: 100000000`
    ends at once instead of after minutes of allocation.
    """
    from seq2seq.config import recurrent_weights

    memory = physical_memory()
    cores = recurrent_weights(config.model, "model")
    needed = 16 * sum(cores.values())
    if memory and needed > memory:
        key, largest = max(cores.items(), key=lambda item: item[1])
        raise UserError(
            f"key `{key}.units`: the recurrent weights alone need at least {needed / 2**30:,.1f} GiB in training "
            f"(weights, gradients and two optimizer moments; {largest:,} weights in `{key}`), and this machine has "
            f"{memory / 2**30:,.1f} GiB; choose fewer units or layers."
        )


def training_run(*sections: str):
    """Decorates `train(config, run_dir)` into `train(config)` with the checks of the module doc."""

    def decorate(train):
        @functools.wraps(train)
        def run(config):
            from seq2seq.distribute import worker_folder

            refuse_what_cannot_fit(config)
            run_dir = Path(config.run_dir)
            own = worker_folder(run_dir, config.training.distribute)  # run_dir, except for non-chief workers
            with restored_dtype_policy(), locked(own):
                if own == run_dir:
                    refuse_old_backup(run_dir)
                    refuse_changed_experiment(run_dir, config, sections)
                    roll_back(run_dir)
                seed_everything(config.training.seed)
                return train(config, run_dir)

        return run

    return decorate
