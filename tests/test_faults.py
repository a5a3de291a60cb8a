"""Faults and hostile input: one writer per run folder, the same experiment on resume, NaN, bad numbers,
overwrite that never destroys what the command did not write, a closed pipe."""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import run

from seq2seq import config as config_lib
from seq2seq.callbacks import StopOnNaN
from seq2seq.cli import main
from seq2seq.errors import UserError
from seq2seq.lm.config import LMConfig
from seq2seq.run_folder import locked
from seq2seq.translation.config import TranslationConfig


def test_a_second_writer_is_refused_with_the_holder(toy_config_file, tmp_path, capsys):
    with locked(tmp_path / "run"):
        code, _, err = run(capsys, "lm", "train", toy_config_file)
    assert code == 2 and f"in use by process {os.getpid()}" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "config.yaml").exists()  # nothing was written


@pytest.mark.slow  # a killed subprocess, then a training run
def test_a_killed_holder_does_not_block_the_next_run(tmp_path):
    folder = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\nfrom seq2seq.run_folder import locked\n"
            f"with locked(Path({str(folder)!r})):\n    print('held', flush=True)\n"
            "    time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"process {holder.pid}"):
            with locked(folder):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with locked(folder):  # released by the system when the holder died
        pass


def test_resuming_with_other_model_or_data_keys_is_refused_before_anything_changes(toy_config_file, tmp_path, capsys):
    assert run(capsys, "lm", "train", toy_config_file, "--set", "training.epochs=1")[0] == 0
    saved = (tmp_path / "run" / "config.yaml").read_text()
    history = (tmp_path / "run" / "history.csv").read_text()
    code, _, err = run(
        capsys, "lm", "train", toy_config_file, "--set", "model.embedding_dim=8", "--set", "data.min_frequency=2"
    )
    assert code == 2 and "data.min_frequency, model.embedding_dim" in err
    assert (tmp_path / "run" / "config.yaml").read_text() == saved
    assert (tmp_path / "run" / "history.csv").read_text() == history
    assert run(capsys, "lm", "train", toy_config_file, "--set", "training.epochs=2")[0] == 0  # training keys may change


def test_a_nan_loss_stops_with_the_epoch_and_step():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((8, 2), "float32")
    x[5] = np.nan  # the third batch of two
    with pytest.raises(UserError, match="became nan at epoch 1, step 3"):
        model.fit(x, np.ones((8, 1)), batch_size=2, epochs=1, shuffle=False, verbose=0, callbacks=[StopOnNaN()])


@pytest.mark.parametrize(
    "schema,overrides,message",
    [
        (LMConfig, ["training.learning_rate=.nan"], "must be a finite number"),
        (LMConfig, ["training.learning_rate=.inf"], "must be a finite number"),
        (LMConfig, ["model.rnn.dropout=.nan"], "must be a finite number"),
        (LMConfig, ["run_dir=''"], "`run_dir` must not be empty"),
        (TranslationConfig, ["training.bucket_boundaries=[]"], "bucket_boundaries"),
        (TranslationConfig, ["training.bucket_boundaries=[20, 10]"], "bucket_boundaries"),
        (TranslationConfig, ["training.bucket_boundaries=[1, 10]"], "bucket_boundaries"),
        (TranslationConfig, ["training.label_smoothing=-.inf"], "finite"),
    ],
)
def test_bad_numbers_in_configs_name_the_key(tmp_path, schema, overrides, message):
    path = tmp_path / "c.yaml"
    path.write_text("data: {valid_fraction: 0.1}\n" if schema is LMConfig else "{}\n")
    with pytest.raises(UserError, match=message):
        config_lib.load(schema, path, overrides)


@pytest.mark.parametrize(
    "option,value",
    [
        ("--alpha", "nan"),
        ("--alpha", "inf"),
        ("--temperature", "inf"),
        ("--temperature", "nan"),
        ("--max-length-ratio", "inf"),
        ("--lm-weight", "nan"),
        ("--top-k", "0"),
        ("--seed", "x"),
    ],
)
def test_bad_numbers_in_options_name_the_option(option, value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["translate", option, value, "-"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and option in err and "Traceback" not in err


def test_report_overwrite_never_replaces_the_current_folder_or_a_stranger(tmp_path, capsys, monkeypatch):
    (tmp_path / "h.txt").write_text("a b c\n")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.txt").write_text("mine\n")
    monkeypatch.chdir(tmp_path)
    base = ["evaluate", "--hypothesis", "h.txt", "--reference", "h.txt", "--overwrite", "--report"]
    for folder in (".", "..", "keep"):
        code, _, err = run(capsys, *base, folder)
        assert code == 2 and "--overwrite" in err and "Traceback" not in err
    assert (tmp_path / "keep" / "notes.txt").read_text() == "mine\n" and (tmp_path / "h.txt").exists()
    assert run(capsys, *base, "report")[0] == 0  # a new folder
    assert run(capsys, *base, "report")[0] == 0  # an earlier report: replaced
    assert json.loads((tmp_path / "report" / "report.json").read_text())["data"]["lines"] == 1


def test_average_checkpoints_overwrite_refuses_a_folder_that_is_not_a_model(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "corpus.txt").write_text("precious\n")
    code, _, err = run(capsys, "average-checkpoints", tmp_path / "no_run", "-o", tmp_path / "data", "--overwrite")
    assert code == 2 and "is not a model directory" in err
    assert (tmp_path / "data" / "corpus.txt").read_text() == "precious\n"


@pytest.mark.slow  # a pipeline of subprocesses
def test_output_into_a_closed_pipe_ends_quietly(trained_lm_dir):
    command = (
        f"{sys.executable} -m seq2seq lm generate --model {trained_lm_dir} --num-samples 3000 --max-tokens 20 | head -1"
    )
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True)
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.returncode in (0, 141)  # 141: as a process ended by SIGPIPE; 0: head's status when faster


DAMAGE = {"empty": b"", "truncated": None, "garbage": "garbage ☃\n".encode(), "a JSON list": b"[1, 2]\n"}


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("name", ["model.keras", "manifest.json", "source.spm", "target.spm"])
def test_a_damaged_translation_model_names_the_file(toy_translation_dir, tmp_path, capsys, name, damage):
    folder = tmp_path / "model"
    shutil.copytree(toy_translation_dir, folder)
    original = (folder / name).read_bytes()
    (folder / name).write_bytes(original[: len(original) // 3] if DAMAGE[damage] is None else DAMAGE[damage])
    code, out, err = run(capsys, "translate", "--model", folder, tmp_path / "missing-input.de")
    assert code == 2 and out == "" and "Traceback" not in err
    assert f"{folder}/{name}" in err or (name == "manifest.json" and str(folder) in err)


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("name", ["model.keras", "manifest.json", "vocab.json"])
def test_a_damaged_language_model_names_the_file(trained_lm_dir, tmp_path, capsys, name, damage):
    folder = tmp_path / "model"
    shutil.copytree(trained_lm_dir, folder)
    original = (folder / name).read_bytes()
    (folder / name).write_bytes(original[: len(original) // 3] if DAMAGE[damage] is None else DAMAGE[damage])
    code, out, err = run(capsys, "lm", "score", "--model", folder, tmp_path / "missing.txt")
    assert code == 2 and out == "" and "Traceback" not in err and f"{folder}/{name}" in err


def test_a_model_of_the_other_kind_is_named(toy_translation_dir, trained_lm_dir, tmp_path, capsys):
    code, _, err = run(capsys, "translate", "--model", trained_lm_dir, tmp_path / "x.de")
    assert code == 2 and "expected 'seq2seq-translation/1'" in err
    mixed = tmp_path / "mixed"
    shutil.copytree(trained_lm_dir, mixed)
    shutil.copyfile(toy_translation_dir / "model.keras", mixed / "model.keras")
    code, _, err = run(capsys, "lm", "score", "--model", mixed, tmp_path / "x.txt")
    assert code == 2 and f"{mixed}/model.keras: holds a Seq2SeqModel, expected a language model" in err


def test_an_output_that_is_a_folder_fails_before_any_work(toy_translation_dir, tmp_path, capsys):
    source = tmp_path / "in.de"
    source.write_text("ein hund läuft im park .\n")
    code, out, err = run(capsys, "translate", "--model", toy_translation_dir, source, "-o", tmp_path)
    assert code == 2 and f"{tmp_path}: is a directory" in err and "translated" not in err
    (tmp_path / "file").write_text("x\n")
    code, _, err = run(capsys, "translate", "--model", toy_translation_dir, source, "-o", tmp_path / "file" / "o")
    assert code == 2 and "is a file, not a folder" in err


@pytest.mark.parametrize("fault", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failing_write_is_an_error_and_keeps_the_old_output(
    toy_translation_dir, tmp_path, capsys, monkeypatch, fault
):
    import seq2seq.outputs

    source, output = tmp_path / "in.de", tmp_path / "out.en"
    source.write_text("ein hund läuft im park .\n")
    output.write_text("the previous translation\n")

    def fail(descriptor):
        raise OSError(fault, os.strerror(fault))

    monkeypatch.setattr(seq2seq.outputs.os, "fsync", fail)  # the disk fails while the new file is written
    code, _, err = run(capsys, "translate", "--model", toy_translation_dir, source, "-o", output)
    assert code == 2 and f"{output}: cannot write it ({os.strerror(fault)})" in err and "Traceback" not in err
    assert output.read_text() == "the previous translation\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.de", "out.en"]  # no partial file left


def test_precision_auto_follows_the_hardware_and_old_spellings_are_read(monkeypatch):
    from seq2seq import training
    from seq2seq.config import OptimizationConfig

    monkeypatch.setattr(training, "_gpu_compute_capability", lambda: None)
    monkeypatch.setattr(training, "_cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert training.resolve_precision("auto") == ("bfloat16", "the CPU has avx512_bf16")
    monkeypatch.setattr(training, "_cpu_flags", lambda: {"avx2", "fma"})
    assert training.resolve_precision("auto")[0] == "float32"
    monkeypatch.setattr(training, "_gpu_compute_capability", lambda: (7, 5))
    assert training.resolve_precision("auto")[0] == "float16"
    monkeypatch.setattr(training, "_gpu_compute_capability", lambda: (9, 0))
    assert training.resolve_precision("auto")[0] == "bfloat16"
    assert training.resolve_precision("float32") == ("float32", "set in the config")
    assert config_lib.from_dict(OptimizationConfig, {"mixed_precision": True}).mixed_precision == "bfloat16"
    assert config_lib.from_dict(OptimizationConfig, {"mixed_precision": False}).mixed_precision == "float32"


def test_a_kill_while_the_backup_is_written_keeps_the_previous_backup(tmp_path, monkeypatch):
    from seq2seq.backup import AtomicBackupAndRestore

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"))
    backup.set_model(model)
    backup.on_epoch_end(0)  # a complete backup of epoch 1
    saved = model.get_weights()
    model.set_weights([weight + 1 for weight in saved])

    def killed_while_writing(path, overwrite=True):
        Path(path).write_bytes(b"\x89HDF\r\n")  # the first bytes of a weights file, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save_weights", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        backup.on_epoch_end(1)
    monkeypatch.undo()
    assert json.loads((tmp_path / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["backup"]  # no partial folder left
    fresh = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    fresh.compile(optimizer="sgd", loss="mse")
    restore = AtomicBackupAndRestore(str(tmp_path / "backup"))
    restore.set_model(fresh)
    restore.on_train_begin()  # the next run loads the previous backup
    for restored, original in zip(fresh.get_weights(), saved):
        np.testing.assert_array_equal(restored, original)


def test_a_truncated_backup_of_an_older_version_is_named(toy_config_file, tmp_path, capsys):
    (tmp_path / "run" / "backup").mkdir(parents=True)
    (tmp_path / "run" / "backup" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    code, _, err = run(capsys, "lm", "train", toy_config_file)
    assert code == 2 and "the resume backup is damaged" in err and "Traceback" not in err


def test_patience_counters_survive_a_resume_and_the_metadata_is_valid_json(tmp_path):
    from seq2seq.backup import AtomicBackupAndRestore

    def callbacks(monitor="val_loss"):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        stopping = keras.callbacks.EarlyStopping(monitor=monitor, patience=3)
        plateau = keras.callbacks.ReduceLROnPlateau(patience=2)
        backup = AtomicBackupAndRestore(str(tmp_path / "backup"), stateful=[plateau, stopping])
        for callback in (plateau, stopping, backup):  # the order of standard_callbacks: the backup last
            callback.set_model(model)
            callback.on_train_begin()
        return plateau, stopping, backup

    plateau, stopping, backup = callbacks()
    stopping.wait, stopping.best, stopping.best_epoch = 2, np.float32(0.5), 4
    plateau.wait, plateau.best, plateau.cooldown_counter = 1, float("inf"), 1
    backup.on_epoch_end(5)

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    json.loads((tmp_path / "backup" / "training_metadata.json").read_text(), parse_constant=refuse)
    plateau, stopping, _ = callbacks()  # a resumed run
    assert (stopping.wait, stopping.best, stopping.best_epoch) == (2, 0.5, 4)
    assert (plateau.wait, plateau.best, plateau.cooldown_counter) == (1, float("inf"), 1)
    plateau, stopping, _ = callbacks(monitor="val_bleu")  # resumed with another training.select_by
    assert (stopping.wait, stopping.best) == (0, None) and plateau.wait == 1  # early stopping starts afresh


def test_build_vocab_overwrite_replaces_only_its_own_untrained_vocabularies(tmp_path, capsys):
    from helpers import toy_translation_config

    config = tmp_path / "toy.yaml"
    config_lib.save(toy_translation_config(tmp_path / "run", epochs=1), config)
    run_dir = tmp_path / "run"
    assert run(capsys, "build-vocab", config)[0] == 0
    first = (run_dir / "source.spm").read_bytes()
    code, _, err = run(capsys, "build-vocab", config, "--overwrite", "--set", "data.train=[{prefix: missing}]")
    assert code == 2 and "missing" in err
    assert (run_dir / "source.spm").read_bytes() == first  # the failed rebuild kept the old files
    assert run(capsys, "build-vocab", config, "--overwrite", "--set", "vocabulary.size=50")[0] == 0
    (run_dir / "target.spm").write_text("my notes\n")  # not a vocabulary: never replaced
    code, _, err = run(capsys, "build-vocab", config, "--overwrite")
    assert code == 2 and f"{run_dir / 'target.spm'}: not a SentencePiece model" in err
    assert (run_dir / "target.spm").read_text() == "my notes\n"
    (run_dir / "target.spm").write_bytes((run_dir / "source.spm").read_bytes())
    (run_dir / "checkpoints").mkdir()
    code, _, err = run(capsys, "build-vocab", config, "--overwrite")
    assert code == 2 and "holds a training run" in err


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_config_yaml_is_named_where_it_is_read(toy_translation_dir, tmp_path, capsys, damage):
    """`translate --split-sentences` and `evaluate --tfds` read the model's config.yaml (its languages)."""
    folder = tmp_path / "model"
    shutil.copytree(toy_translation_dir, folder)
    original = (folder / "config.yaml").read_bytes()
    (folder / "config.yaml").write_bytes(original[: len(original) // 3] if DAMAGE[damage] is None else DAMAGE[damage])
    (folder / "metrics.json").write_bytes(b'{"epoch": ')  # figures only: never needed to translate
    source = tmp_path / "in.de"
    source.write_text("ein hund läuft. zwei kinder spielen.\n")
    for argv in (
        ["translate", "--split-sentences", "--model", folder, source],
        ["evaluate", "--model", folder, "--tfds", "wmt14_translate/de-en", "--tfds-data-dir", tmp_path],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and "Traceback" not in err and f"{folder}/config.yaml" in err, err
    assert run(capsys, "translate", "--model", folder, source)[0] == 0


def test_one_warning_names_the_key_that_keeps_a_gpu_off_cudnn(monkeypatch):
    from seq2seq import training
    from seq2seq.config import RNNConfig

    cores = {"model.encoder": RNNConfig(cell="simple"), "model.rnn": RNNConfig(cell="lstm")}
    monkeypatch.setattr(training, "_gpu_compute_capability", lambda: None)
    assert training.cudnn_warning(cores) is None  # no GPU: nothing to warn about
    monkeypatch.setattr(training, "_gpu_compute_capability", lambda: (8, 0))
    assert training.cudnn_warning(cores).startswith("warning: model.encoder.cell=simple has no cuDNN kernel")
    assert training.cudnn_warning({"model.rnn": RNNConfig(cell="gru")}) is None
