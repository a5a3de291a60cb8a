"""The `seq2seq arrays export | train | import` commands (see :mod:`seq2seq.translation.arrays`)."""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq import config as config_lib
from seq2seq.cli.arguments import config_arguments, positive_float
from seq2seq.errors import UserError
from seq2seq.outputs import check_output_path


def add_arrays_commands(commands) -> None:
    """`seq2seq arrays export | train | import` on the `commands` subparsers."""
    arrays = commands.add_parser(
        "arrays", help="train a translator from token arrays, under any Keras backend (a GPU with JAX, no TensorFlow)"
    )
    steps = arrays.add_subparsers(dest="arrays_command", required=True, metavar="STEP")
    for name, text in (
        ("export", "encode a config's corpora and vocabularies into one .npz file (needs TensorFlow)"),
        ("train", "train (or resume) the config's model in its run_dir from such a file"),
        ("import", "a model directory from the weight chunks of `arrays train --chunks`"),
    ):
        step = steps.add_parser(name, help=text)
        config_arguments(step, "configs/general_de_en_gpu.yaml")
        if name == "train":
            step.add_argument("corpora", help="the file `arrays export` wrote")
            step.add_argument("--minutes", type=positive_float("--minutes"), help="end after this wall-clock time")
            step.add_argument("--buckets", default="16,32,64,101", help="length buckets, comma-separated")
            step.add_argument("--chunks", metavar="FOLDER", help="also write the best weights as files under 15 MB")
        else:
            step.add_argument(
                "source",
                help="model directory with source.spm and target.spm"
                if name == "export"
                else "the folder of `arrays train --chunks`",
            )
            if name == "import":
                step.add_argument("--vocab", required=True, help="model directory with source.spm and target.spm")
            step.add_argument(
                "-o", "--output", required=True, help="the .npz file" if name == "export" else "new model directory"
            )
            step.add_argument("--overwrite", action="store_true", help="replace an existing --output")
        step.set_defaults(handler=f"seq2seq.cli.arrays:{name if name != 'import' else 'import_chunks'}")


def _config(arguments):
    from seq2seq.translation.config import TranslationConfig

    return config_lib.load(TranslationConfig, arguments.config, arguments.overrides)


def export(arguments) -> int:
    from seq2seq.translation.arrays import export_arrays

    config = _config(arguments)
    check_output_path(arguments.output)
    if Path(arguments.output).exists() and not arguments.overwrite:
        raise UserError(f"{arguments.output}: exists; pass --overwrite to replace it.")
    print(json.dumps(export_arrays(config, Path(arguments.source), Path(arguments.output))))
    return 0


def train(arguments) -> int:
    from seq2seq.translation.arrays import train_arrays

    try:
        buckets = sorted(int(length) for length in arguments.buckets.split(","))
    except ValueError:
        raise UserError(f"--buckets: {arguments.buckets!r} is not a comma-separated list of lengths.") from None
    if not buckets or buckets[0] < 2:
        raise UserError(f"--buckets: {arguments.buckets!r}: every length must be at least 2.")
    train_arrays(_config(arguments), Path(arguments.corpora), buckets, arguments.minutes, arguments.chunks)
    return 0


def import_chunks(arguments) -> int:
    from seq2seq.model_dirs import check_new_model_directory
    from seq2seq.translation.arrays import import_arrays

    config = _config(arguments)
    check_new_model_directory(arguments.output, arguments.overwrite)
    print(import_arrays(config, Path(arguments.source), Path(arguments.vocab), Path(arguments.output)))
    return 0
