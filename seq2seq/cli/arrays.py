"""The `seq2seq arrays export | train | import` commands (see :mod:`seq2seq.translation.arrays`)."""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq import config as config_lib
from seq2seq.errors import UserError
from seq2seq.outputs import check_output_path


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
