"""Argument types and shared option groups of the command line: finite numbers, counts, decoding options.

Each type turns a bad value into argparse's usage error naming the option, so
the command stops with exit status 2 before any work.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from seq2seq.core.choices import MAX_SEED, SEARCH_PRECISIONS, out_of_range
from seq2seq.core.decoding import DecodingOptions
from seq2seq.errors import UserError


def number(kind: type, name: str, lowest: float | None = None, strict: bool = False, highest: float | None = None):
    """An argparse type: a finite `kind` (int: a whole number) at least `lowest` (above it when `strict`), at most
    `highest`."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {noun}. Received: {text!r}") from None
        problem = out_of_range(value, lowest, highest, strict)
        if problem:
            raise argparse.ArgumentTypeError(f"{name} {problem}. Received: {text!r}")
        return value

    return parse


def positive(kind: type, name: str, highest: float | None = None):
    """A whole number at least 1 (`int`) or a number above 0 (`float`), at most `highest`."""
    return number(int, name, 1, highest=highest) if kind is int else number(float, name, 0, True, highest)


def finite_float(name: str):
    """Any finite number (NaN and infinity are refused)."""
    return number(float, name)


def count(name: str, highest: int | None = None):
    """A whole number, 0 or more (at most `highest`)."""
    return number(int, name, 0, highest=highest)


def positive_int(name: str, highest: int | None = None):
    return positive(int, name, highest)


def positive_float(name: str, highest: float | None = None):
    return positive(float, name, highest)


def seed_number(name: str = "--seed"):
    """A random seed, 0 to 2**32 - 1 (what the random generators accept)."""
    return number(int, name, 0, highest=MAX_SEED)


def model_directory(text: str) -> Path:
    """A model directory's path, or an installed model's name turned into its directory (see :mod:`seq2seq.catalog`).

    A name found nowhere stays as given: loading it then fails with an error
    that says where names are looked up.
    """
    from seq2seq.catalog import resolve

    try:
        return resolve(text)
    except UserError:
        return Path(text)


def config_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument("config", help=f"experiment YAML, e.g. {example}")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set training.epochs=2 (repeatable)",
    )


# The command-line names of the shared decoding options (`DecodingOptions` fields), in --help order.
DECODING_FLAGS = {
    "beam_size": "--beam",
    "alpha": "--alpha",
    "batch_size": "--batch-size",
    "max_length_ratio": "--max-length-ratio",
    "max_length_offset": "--max-length-offset",
    "max_source_tokens": "--max-source-tokens",
    "lm_weight": "--lm-weight",
    "temperature": "--temperature",
    "top_k": "--top-k",
    "seed": "--seed",
    "precision": "--precision",
    "shortlist": "--shortlist",
}


def decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """The decoding options shared by `translate`, `evaluate --model` and `serve`: one per `DecodingOptions`
    field, with its default, range and help taken from the field (and `--lm`, the fusion model's folder)."""
    fields = {field.name: field for field in dataclasses.fields(DecodingOptions)}
    defaults = DecodingOptions()
    for name, flag in DECODING_FLAGS.items():
        field, default = fields[name], getattr(defaults, name)
        if name == "lm_weight":
            parser.add_argument(
                "--lm",
                type=model_directory,
                help="target-side language model for shallow fusion (same target vocabulary)",
            )
        if field.type == "bool":
            parser.add_argument(flag, action="store_true", help=field.metadata["doc"])
        elif field.type == "str":
            parser.add_argument(flag, choices=SEARCH_PRECISIONS, default=default, help=field.metadata["doc"])
        else:
            kind = int if field.type.startswith("int") else float
            low, high = field.metadata["minimum"], field.metadata["maximum"]
            parse = number(kind, flag, low, strict=field.metadata["strict"], highest=high)
            parser.add_argument(flag, type=parse, default=default, help=field.metadata["doc"])


def decoding_options(arguments: argparse.Namespace, **changes) -> DecodingOptions:
    """The `DecodingOptions` of parsed arguments (and `changes`, e.g. `n_best`); a bad combination is a
    `UserError` naming the options."""
    values = {name: getattr(arguments, name.replace("beam_size", "beam")) for name in DECODING_FLAGS}
    try:
        return DecodingOptions(**{**values, **changes})
    except ValueError as error:
        text = str(error)
        for name, flag in sorted(DECODING_FLAGS.items(), key=lambda item: -len(item[0])):
            text = text.replace(f"`{name}`", flag).replace(f"{name}=", f"{flag} ")
        raise UserError(text.replace("`n_best`", "--n-best").replace("n_best=", "--n-best ")) from None


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    value = number(int, "--port", lowest=1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"--port must be at most 65535. Received: {value}")
    return value
