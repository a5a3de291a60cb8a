"""Running one command: its Keras backend, TensorFlow's start-up noise silenced, SIGTERM as Ctrl-C, exit statuses.

`run` maps what a command raises to its exit status: a `UserError` to one
`error:` line and status 2, Ctrl-C or SIGTERM to `interrupted` and 130, a
reader that went away (`| head -1`) to a quiet 141.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path

from seq2seq.errors import UserError
from seq2seq.textio import read_lines


def quiet_tensorflow() -> None:
    for name in ("TF_CPP_MIN_LOG_LEVEL", "GLOG_minloglevel", "ABSL_MIN_LOG_LEVEL"):
        os.environ.setdefault(name, "3")
    # TensorFlow's C++ start-up notices bypass Python logging: silence fd 2 while it loads (errors still raise).
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM raises `KeyboardInterrupt` during the block (main thread only); the old handler comes back after."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except (ValueError, AttributeError):  # not the main thread, or no SIGTERM: leave the default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(arguments: argparse.Namespace) -> int:
    module_name, function_name = arguments.handler.split(":")
    try:
        import importlib

        handler = getattr(importlib.import_module(module_name), function_name)
        return handler(arguments) or 0
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        resume = (
            " (run the same command to resume from the last finished epoch)"
            if arguments.handler.endswith(":train")
            else ""
        )
        print(f"interrupted{resume}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`| head -1`): end quietly, as a SIGPIPE would
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


# `translate` of at most this many lines (or from a terminal) runs on Keras's NumPy backend unless KERAS_BACKEND
# says otherwise: it starts in about 3 s where TensorFlow takes 10 or more, gives the same translations, and is
# about 4 times slower a sentence in bulk, so longer inputs are faster with TensorFlow (bench/startup_bench.py).
QUICK_LINES = 32


def quick_backend(arguments) -> bool:
    """Whether this command should run on the NumPy backend (see QUICK_LINES); decided before Keras is imported.

    Only `translate` with options the NumPy backend computes exactly as
    TensorFlow does: no sampling (its random numbers differ), no shortlist or
    language model, float32 search.
    """
    if os.environ.get("KERAS_BACKEND") or getattr(arguments, "handler", "") != "seq2seq.cli.translation:translate":
        return False
    if arguments.temperature is not None or arguments.top_k is not None or arguments.shortlist or arguments.lm:
        return False
    if arguments.precision != "float32":
        return False
    if arguments.input == "-":
        return sys.stdin.isatty()  # a person typing: every line should come back at once
    try:
        path = Path(arguments.input)
        if not path.is_file() or path.stat().st_size > 200 * QUICK_LINES:
            return False
        return len(read_lines(path, errors=arguments.errors)) <= QUICK_LINES
    except (UserError, OSError):
        return False  # the command itself reports what is wrong
