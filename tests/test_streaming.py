"""`translate -` at the end of a pipe or in a terminal: each line is translated as soon as it arrives."""

import os
import select
import subprocess
import sys
import types

import pytest

from seq2seq.errors import UserError
from seq2seq.textio import arriving_lines


def piped_stdin(monkeypatch, data: bytes):
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=os.fdopen(read, "rb")))


def test_lines_come_in_groups_of_at_most_the_limit_and_in_order(monkeypatch):
    piped_stdin(monkeypatch, b"".join(f"line {n}\n".encode() for n in range(7)))
    groups = list(arriving_lines("strict", most=3))
    assert [line for group in groups for line in group] == [f"line {n}" for n in range(7)]
    assert all(1 <= len(group) <= 3 for group in groups)


def test_a_bad_line_ends_the_stream_after_the_lines_before_it(monkeypatch):
    piped_stdin(monkeypatch, b"eins\nzwei\n\xff\xfe kaputt\nvier\n")
    received = []
    with pytest.raises(UserError, match="<stdin>.*line 3"):
        for group in arriving_lines("strict", most=10):
            received += group
    assert received == ["eins", "zwei"]


def readline_within(stream, seconds: float) -> str:
    ready, _, _ = select.select([stream], [], [], seconds)
    assert ready, f"no output line within {seconds} s"
    return stream.readline()


@pytest.mark.slow  # a subprocess that loads a model
def test_a_line_is_translated_before_the_input_ends(toy_translation_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "seq2seq", "translate", "--model", str(toy_translation_dir), "--beam", "1", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        process.stdin.write("ein hund läuft im park .\n")
        process.stdin.flush()
        first = readline_within(process.stdout, 120)  # stdin is still open: nothing has ended the input
        assert first.strip()
        process.stdin.write("\nzwei männer spielen fußball .\n")
        process.stdin.close()
        rest = process.stdout.read().splitlines()
        assert process.wait(timeout=60) == 0
        assert len(rest) == 2 and rest[0] == "" and rest[1].strip()
        assert "translated 3 lines" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
