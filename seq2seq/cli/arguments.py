"""Argument types and shared option groups of the command line: finite numbers, counts, decoding options.

Each type turns a bad value into argparse's usage error naming the option, so
the command stops with exit status 2 before any work.
"""

from __future__ import annotations

import argparse
import math

from seq2seq.core.specials import SEARCH_PRECISIONS


def number(kind: type, name: str, lowest: float | None = None, strict: bool = False):
    """An argparse type: a finite `kind` (int: a whole number) at least `lowest` (above it when `strict`)."""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {noun}. Received: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number. Received: {text!r}")
        if lowest is not None and (value <= lowest if strict else value < lowest):
            bound = f"above {lowest}" if strict else f"at least {lowest}"
            raise argparse.ArgumentTypeError(f"{name} must be {bound}. Received: {value}")
        return value

    return parse


def positive(kind: type, name: str):
    """A whole number at least 1 (`int`) or a number above 0 (`float`)."""
    return number(int, name, 1) if kind is int else number(float, name, 0, strict=True)


def finite_float(name: str):
    """Any finite number (NaN and infinity are refused)."""
    return number(float, name)


def count(name: str):
    """A whole number, 0 or more."""
    return number(int, name, 0)


def positive_int(name: str):
    return positive(int, name)


def positive_float(name: str):
    return positive(float, name)


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


def decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """The decoding options shared by `translate` and `evaluate --model`."""
    parser.add_argument("--beam", type=positive_int("--beam"), default=5, help="beam width (1: greedy)")
    parser.add_argument(
        "--alpha", type=finite_float("--alpha"), default=0.6, help="length-penalty exponent (Wu et al. 2016)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int("--batch-size"),
        default=64,
        help="sentences per batch (long ones come in smaller batches: at most 2,048 source subwords)",
    )
    parser.add_argument("--max-length-ratio", type=positive_float("--max-length-ratio"), default=1.5)
    parser.add_argument(
        "--max-length-offset",
        type=count("--max-length-offset"),
        default=10,
        help="outputs stop after max-length-ratio x source tokens + this many",
    )
    parser.add_argument(
        "--max-source-tokens",
        type=positive_int("--max-source-tokens"),
        default=250,
        help="longer sources are truncated (with a warning count)",
    )
    parser.add_argument("--lm", help="target-side language model for shallow fusion (same target vocabulary)")
    parser.add_argument(
        "--lm-weight", type=finite_float("--lm-weight"), default=0.2, help="weight of the language model's log-probs"
    )
    parser.add_argument(
        "--temperature",
        type=positive_float("--temperature"),
        default=None,
        help="sample translations from softmax(logits / T) instead of searching (needs --beam 1)",
    )
    parser.add_argument(
        "--top-k",
        type=positive_int("--top-k"),
        default=None,
        help="sample from the K most likely tokens at each step (needs --beam 1)",
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed: the same seed gives the same samples")
    parser.add_argument(
        "--precision",
        choices=SEARCH_PRECISIONS,
        default="float32",
        help="bfloat16: products with bfloat16 weight copies (faster with AMX; outputs differ)",
    )
    parser.add_argument("--shortlist", action="store_true", help="score only the words in the model's shortlist.npz")


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    value = number(int, "--port", lowest=1)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"--port must be at most 65535. Received: {value}")
    return value
