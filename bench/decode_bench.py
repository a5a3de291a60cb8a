"""Benchmark `seq2seq translate` of a whole file, cold, against another checkout of the toolkit.

Usage (from the repository root, nothing else running):
    git worktree add --detach /tmp/before c4411e5   # the code to compare with
    python bench/decode_bench.py --before /tmp/before [--model saved_models/multi30k_de_en]
        [--source ../shared/data/news/dev.de.gz --reference ../shared/data/news/dev.en.gz]

Runs `python -m seq2seq translate` once per checkout (this one and
`--before`, alternating, `--rounds` times) in a fresh process, so every run
is cold: it compiles its search as a user's first run does (this checkout:
one graph for every batch shape; before c4411e5's successor: one graph per
padded shape). Prints, per checkout and beam, the median over rounds of the
command's own "translated N lines in S s" figure (model loading excluded,
compilation included), its sentences/s, words/s (source words) and the BLEU
of its output (sacrebleu, against `--reference`).

With `--precisions float32,bfloat16`, this checkout runs once per search
precision (`translate --precision`; the row is named after the precision).
With `--shortlist`, it also runs each precision with the model's lexical
shortlist (`translate --shortlist`; the rows "shortlist" for float32 and
"PRECISION+shortlist" for the others; the model directory needs a
`shortlist.npz`, see `seq2seq shortlist`).
Without `--before`, only this checkout runs (e.g. for a model the other
checkout does not have). With `--warm`, each checkout instead loads the model into its own
`Translator` (the checkout's own copy of `--model`, a path relative to each
checkout), translates the file once untimed (compiling every shape) and
times a second pass: the steady speed of a long-running process, without
tracing. This works with checkouts from before the redesign (their
`seq2seq.export` / `seq2seq.translator` modules) too, e.g. 2113ac1, the code
issue 13 measured ("11.7 news sentences/s, beam 5, warm").
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
from pathlib import Path

from common import fail, host_line, run_python, warn_if_busy

from seq2seq.textio import read_lines

ROOT = Path(__file__).resolve().parents[1]


def run_translate(tree: Path, model: str, source: str, beam: int, output: Path, precision: str) -> float:
    """Seconds the translate command reports for the whole file (cold)."""
    base, _, shortlist = precision.partition("+")
    options = ([] if base == "float32" else ["--precision", base]) + (["--shortlist"] if shortlist else [])
    arguments = ["-m", "seq2seq", "translate", "--model", model, "--beam", beam, *options, source, "-o", output]
    done = run_python(arguments, tree, {**os.environ, "PYTHONPATH": str(tree)})
    if done.returncode != 0:
        fail(f"translate in {tree} failed: {done.stderr.strip().splitlines()[-1:]}")
    match = re.search(r"translated (\d+) lines in ([\d.]+)s", done.stderr)
    if not match:
        fail(f"translate in {tree} printed no timing line")
    return float(match.group(2))


WARM_WORKER = """
import sys, time
sys.path.insert(0, sys.argv[1])
try:
    from seq2seq.model_dirs import load_translation_model
    from seq2seq.translation.translator import Translator
except ImportError:  # a checkout from before the redesign
    from seq2seq.export import load_translation_model
    from seq2seq.translator import Translator
from seq2seq.textio import read_lines
model_dir, source, beam, output, precision = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
lines = read_lines(source)
base, _, shortlist = precision.partition("+")
options = {} if base == "float32" else {"precision": base}  # (older checkouts have no such option)
loaded = load_translation_model(model_dir)
if shortlist:
    from seq2seq.translation.shortlist import load_shortlist
    options["shortlist"] = load_shortlist(model_dir, loaded[0])
try:
    from seq2seq.core.decoding import DecodingOptions
    listed = {"shortlist": options.pop("shortlist")} if "shortlist" in options else {}
    translator = Translator(*loaded, DecodingOptions(beam_size=beam, **options), **listed)
except ImportError:  # a checkout from before DecodingOptions
    translator = Translator(*loaded, beam_size=beam, **options)
translator.translate(lines)
started = time.perf_counter()
results = translator.translate(lines)
seconds = time.perf_counter() - started
with open(output, "w", encoding="utf-8") as file:
    file.writelines((best[0].text if best else "") + chr(10) for best in results)
print(f"translated {len(lines)} lines in {seconds:.2f}s")
"""


def run_warm(tree: Path, model: str, source: str, beam: int, output: Path, precision: str) -> float:
    """Seconds of a second, warm pass over the file in one process of the checkout `tree`."""
    arguments = ["-c", WARM_WORKER, tree, model, source, beam, output, precision]
    done = run_python(arguments, tree, {**os.environ, "PYTHONPATH": str(tree)})
    if done.returncode != 0:
        fail(f"the warm worker in {tree} failed: {done.stderr.strip().splitlines()[-1:]}")
    return float(re.search(r"translated \d+ lines in ([\d.]+)s", done.stdout).group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="another checkout (git worktree) of the toolkit (absent: this one only)")
    parser.add_argument("--model", default="saved_models/multi30k_de_en")
    parser.add_argument("--source", default="../shared/data/news/dev.de.gz")
    parser.add_argument("--reference", default="../shared/data/news/dev.en.gz")
    parser.add_argument("--beams", default="5,1")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--precisions",
        default="float32",
        help="search precisions for this checkout, e.g. float32,bfloat16 (`before`: float32)",
    )
    parser.add_argument(
        "--shortlist",
        action="store_true",
        help="also run each precision with the model's shortlist (translate --shortlist)",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="time a second pass in one process per checkout (model: each checkout's own copy)",
    )
    arguments = parser.parse_args()
    from sacrebleu.metrics import BLEU

    warn_if_busy()
    print(host_line())
    source = str(Path(arguments.source).resolve())
    model = arguments.model if arguments.warm else str(Path(arguments.model).resolve())
    run, kind = (run_warm, "warm") if arguments.warm else (run_translate, "cold")
    lines, references = read_lines(source), read_lines(arguments.reference)
    words = sum(len(line.split()) for line in lines)
    precisions = arguments.precisions.split(",")
    precisions += [f"{precision}+shortlist" for precision in precisions] if arguments.shortlist else []
    trees = {
        {"float32": "this checkout", "float32+shortlist": "shortlist"}.get(precision, precision): (ROOT, precision)
        for precision in precisions
    }
    if arguments.before:
        trees["before"] = (Path(arguments.before).resolve(), "float32")
    for beam in (int(value) for value in arguments.beams.split(",")):
        seconds = {name: [] for name in trees}
        for _ in range(arguments.rounds):
            for name, (tree, precision) in trees.items():
                output = Path(f"/tmp/decode_bench_{name.replace(' ', '_')}_{beam}.en")
                seconds[name].append(run(tree, model, source, beam, output, precision))
        for name in trees:
            median = statistics.median(seconds[name])
            hypotheses = read_lines(f"/tmp/decode_bench_{name.replace(' ', '_')}_{beam}.en")
            bleu = BLEU().corpus_score(hypotheses, [references]).score
            print(
                f"{name:>13}: beam {beam}: {median:6.1f} s {kind} for {len(lines)} lines = "
                f"{len(lines) / median:6.1f} sentences/s, {words / median:7.1f} source words/s; BLEU {bleu:.2f} "
                f"({Path(arguments.model).name} on {Path(arguments.source).name}; rounds {seconds[name]})",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
