"""Reading text files: plain or gzip, strict UTF-8 (errors name the file and line), standard input as `-`
(whole, or in groups of lines as they arrive).

Writing is :mod:`seq2seq.outputs`.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from seq2seq.errors import UserError

ENCODING_ERRORS = ("strict", "replace")


def _open_binary(path: str | os.PathLike) -> io.BufferedIOBase:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: file not found.")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a text file.")
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def decode_lines(raw_lines, name: str, errors: str = "strict") -> Iterator[str]:
    """Decodes byte lines as UTF-8, without their line ends.

    Args:
        raw_lines: an iterable of `bytes`, one per line.
        name: the file name used in error messages.
        errors: "strict" raises :class:`UserError` naming the line of invalid
            UTF-8; "replace" substitutes U+FFFD.
    """
    if errors not in ENCODING_ERRORS:
        raise UserError(f"`errors` must be one of {ENCODING_ERRORS}. Received: errors={errors!r}")
    for number, raw in enumerate(raw_lines, start=1):
        try:
            text = raw.decode("utf-8", errors=errors)
        except UnicodeDecodeError as error:
            raise UserError(
                f"{name}, line {number}: invalid UTF-8 at byte {error.start} "
                f"({raw[error.start : error.start + 4]!r}). Convert the file to UTF-8, "
                "or pass --errors replace to substitute U+FFFD."
            ) from None
        yield text.rstrip("\r\n")


def read_lines(path: str | os.PathLike, errors: str = "strict") -> list[str]:
    """All lines of a text file (`.gz` is decompressed); `-` reads standard input."""
    return list(iterate_lines(path, errors))


def iterate_lines(path: str | os.PathLike, errors: str = "strict") -> Iterator[str]:
    """The lines of a text file, one at a time (as :func:`read_lines`, without holding them all)."""
    if str(path) == "-":
        yield from decode_lines(sys.stdin.buffer, "<stdin>", errors)
        return
    try:
        with _open_binary(path) as handle:
            yield from decode_lines(handle, str(path), errors)
    except (OSError, EOFError) as error:
        raise UserError(f"{path}: cannot read ({error}).") from None


def check_utf8(path: str | os.PathLike) -> int:
    """Validates a file as UTF-8 and returns its line count; errors name the line."""
    return sum(1 for _ in read_lines(path))


def arriving_lines(errors: str, most: int):
    """Groups of standard input's lines as they arrive: waits for one line, then takes those already read (at
    most `most`). A thread reads, so a line is translated as soon as it is complete, whatever comes after it; a
    bad line (invalid UTF-8) raises its `UserError` after the lines before it."""
    import queue
    import threading

    arrived: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for line in iterate_lines("-", errors):
                arrived.put(line)
        except Exception as error:  # noqa: BLE001 -- handed to the main thread, which raises it
            arrived.put(error)
        arrived.put(None)

    threading.Thread(target=read, daemon=True, name="stdin").start()
    waiting = object()  # nothing more has arrived yet
    pending = arrived.get()
    while pending is not None:
        group = []
        while isinstance(pending, str) and len(group) < most:
            group.append(pending)
            try:
                pending = arrived.get_nowait()
            except queue.Empty:
                pending = waiting
        if group:
            yield group
        if isinstance(pending, Exception):
            raise pending
        if pending is waiting:
            pending = arrived.get()
