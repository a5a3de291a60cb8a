"""Where the time to the first translation goes: the command line and the Python API, per Keras backend.

Usage (from anywhere, nothing else running):
    python bench/startup_bench.py [--model general_de_en] [--repeats 3]

Prints, for one sentence ("Guten Morgen."):
  - the wall time of `seq2seq translate FILE` as a user runs it (the backend
    chosen by the command: NumPy for a few lines) and with
    `KERAS_BACKEND=tensorflow` (every command before the quick path), the
    median of `--repeats` runs, command start to exit;
  - the breakdown of one fresh process per backend: interpreter start,
    `import seq2seq.cli` (the parser), `import keras` (the backend), loading
    the model (`Translator.load`), and the first translation (for TensorFlow
    this includes tracing the search), the last three also being what a
    program's `Translator.load` and first `translate` cost;
  - whether the two backends gave the same translation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_name, host_line, warn_if_busy  # noqa: E402

SENTENCE = "Guten Morgen."
PHASES = r"""
import json, os, sys, time
start = float(sys.argv[1])
began = time.time()
import seq2seq
if os.environ["KERAS_BACKEND"] == "numpy":
    seq2seq.use_numpy_backend()  # as a program (and the command line's quick path) would
import seq2seq.cli
parsed = time.time()
import keras
imported = time.time()
translator = seq2seq.Translator.load(sys.argv[2])
loaded = time.time()
text = translator.translate([sys.argv[3]])[0].text
done = time.time()
print(json.dumps({"interpreter": began - start, "seq2seq.cli": parsed - began, "keras": imported - parsed,
                  "load": loaded - imported, "first translation": done - loaded, "text": text}))
"""


def command_seconds(model: str, backend: str | None, folder: Path) -> tuple[float, str]:
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    if backend:
        environment["KERAS_BACKEND"] = backend
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "seq2seq", "translate", "--model", model, str(folder / "in.de")],
        env=environment,
        capture_output=True,
        text=True,
        cwd=folder,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"error: seq2seq translate failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout.strip()


def phases(model: str, backend: str) -> dict:
    environment = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", PHASES, repr(time.time()), model, SENTENCE],
        env=environment,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"error: the {backend} process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="general_de_en", help="model directory or installed name")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    warn_if_busy()
    print(host_line())
    print("CPU:", cpu_name())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "in.de").write_text(SENTENCE + "\n", encoding="utf-8")
        texts = {}
        for label, backend in (("as run (quick path)", None), ("KERAS_BACKEND=tensorflow", "tensorflow")):
            runs = [command_seconds(arguments.model, backend, folder) for _ in range(arguments.repeats)]
            texts[label] = runs[0][1]
            seconds = [run[0] for run in runs]
            print(
                f"seq2seq translate, one sentence, {label}: median {statistics.median(seconds):.2f} s "
                f"(runs: {', '.join(f'{s:.2f}' for s in seconds)}) -> {runs[0][1]!r}"
            )
    print("same translation:", len(set(texts.values())) == 1)
    for backend in ("numpy", "tensorflow"):
        measured = phases(arguments.model, backend)
        text = measured.pop("text")
        api = measured["keras"] + measured["load"] + measured["first translation"]
        print(
            f"{backend:>10}: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in measured.items())
            + f"; Translator.load + first translation (with import keras) {api:.2f} s -> {text!r}"
        )


if __name__ == "__main__":
    main()
