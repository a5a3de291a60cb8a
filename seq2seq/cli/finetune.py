"""The `seq2seq finetune` command: a trained translation model continued on the user's parallel files."""

from __future__ import annotations

import sys
from pathlib import Path

from seq2seq.cli.arguments import model_directory, number, positive_float, positive_int


def add_finetune_command(commands) -> None:
    """`seq2seq finetune` on the `commands` subparsers."""
    from seq2seq.translation.finetuning import DEFAULT_EPOCHS, DEFAULT_LEARNING_RATE, DEFAULT_STEPS

    finetune = commands.add_parser(
        "finetune", help="continue a translation model on your parallel files (its own vocabulary), a new model"
    )
    finetune.add_argument("--model", type=model_directory, required=True, help="translation model directory or name")
    finetune.add_argument(
        "--train", action="append", required=True, metavar="PREFIX", help="files PREFIX.de and PREFIX.en (repeatable)"
    )
    finetune.add_argument(
        "--valid", action="append", default=[], metavar="PREFIX", help="validation files (default: the model's)"
    )
    finetune.add_argument(
        "--mix",
        type=number(float, "--mix", 0.0, highest=0.9),
        default=0.0,
        help="share of the sampled pairs drawn from the model's own training corpora, 0 to 0.9 (default 0)",
    )
    finetune.add_argument("--epochs", type=positive_int("--epochs", 1000), default=DEFAULT_EPOCHS)
    finetune.add_argument("--steps-per-epoch", type=positive_int("--steps-per-epoch"), default=DEFAULT_STEPS)
    finetune.add_argument("--learning-rate", type=positive_float("--learning-rate", 1.0), default=DEFAULT_LEARNING_RATE)
    finetune.add_argument("--run-dir", help="run folder (default: finetune_runs/NAME of the output); resumes")
    finetune.add_argument("-o", "--output", required=True, help="the new model directory")
    finetune.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    finetune.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    finetune.set_defaults(handler="seq2seq.cli.finetune:train")


def train(arguments) -> int:
    from seq2seq.model_dirs import check_new_model_directory
    from seq2seq.translation.finetuning import finetune, finetuning_config

    output = Path(arguments.output)
    check_new_model_directory(output, arguments.overwrite)
    run_dir = Path(arguments.run_dir or Path("finetune_runs") / output.name)
    config, notes = finetuning_config(
        Path(arguments.model),
        arguments.train,
        arguments.valid,
        arguments.mix,
        run_dir,
        arguments.learning_rate,
        arguments.epochs,
        arguments.steps_per_epoch,
        arguments.overrides,
    )
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"fine-tuning {arguments.model} in {run_dir}; the best model goes to {output}", file=sys.stderr)
    finetune(config, Path(arguments.model), output)
    print(f"wrote {output}")
    return 0
