"""Peak memory of `seq2seq translate` on a long file (issue 13: a 10,000-line file under 1.5 GB).

Usage (from the repository root):
    python bench/memory_bench.py [--model saved_models/multi30k_de_en] [--lines 10000] [--beam 5]
        [--source ../shared/data/news/train.de.gz]

Writes the first `--lines` lines of `--source` (default: WMT news, the
longest sentences of the corpora here, about 20 words) to a temporary file
and runs `python -m seq2seq translate --model M FILE -o OUT` on it in a fresh
process. Prints that process's peak resident memory (`ru_maxrss` of
RUSAGE_CHILDREN: the translate process is this script's only child), its own
"translated N lines in S s" line and the lines in and out.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from pathlib import Path

from common import REPO, cpu_name, fail, run_python

from seq2seq.textio import read_lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="saved_models/multi30k_de_en")
    parser.add_argument("--source", default="../shared/data/news/train.de.gz")
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--beam", type=int, default=5)
    arguments = parser.parse_args()
    lines = read_lines(arguments.source)[: arguments.lines]
    if len(lines) < arguments.lines:
        fail(f"{arguments.source} has only {len(lines)} lines; --lines asks for {arguments.lines}")
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "input.de", Path(folder) / "output.en"
        source.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        arguments = ["-m", "seq2seq", "translate", "--model", arguments.model, "--beam", arguments.beam]
        done = run_python([*arguments, source, "-o", output], REPO)
        if done.returncode != 0:
            fail(f"translate failed: {done.stderr.strip().splitlines()[-1:]}")
        translated = len(output.read_text(encoding="utf-8").splitlines())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = [line for line in done.stderr.splitlines() if line.startswith("translated ")]
    print(f"host: {os.cpu_count()} CPUs, {cpu_name()}")
    print(
        f"seq2seq translate --model {arguments.model} --beam {arguments.beam}: {len(lines)} lines of "
        f"{arguments.source} in, {translated} out; peak RSS {peak:,.0f} MiB"
    )
    print(summary[-1] if summary else "(no 'translated' line on stderr)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
