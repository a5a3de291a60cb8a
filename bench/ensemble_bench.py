"""What an ensemble of translation models buys against its cost: BLEU and time of each member and of the ensemble.

Usage (from the repository root, nothing else running):
    python bench/ensemble_bench.py MODEL MODEL [...] [--sets multi30k/val,tatoeba/dev,news/dev] [--lines 500]

Makes the ensemble of the models (`seq2seq ensemble`, in a temporary
folder), then translates the first `--lines` sentences of each dev set
(PREFIX under ../shared/data, .de.gz and .en.gz) with every member alone and
with the ensemble (beam 5, batches of 64, TensorFlow), and prints BLEU
(sacrebleu) and seconds for each, on this CPU. Dev sets only: choosing an
ensemble on a test set would spend it.
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, cpu_name


def read(path: Path, lines: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(lines), handle)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--sets", default="multi30k/val,tatoeba/dev,news/dev")
    parser.add_argument("--lines", type=int, default=500)
    arguments = parser.parse_args()
    import sacrebleu

    from seq2seq import DecodingOptions, Translator

    folder = Path(tempfile.mkdtemp()) / "ensemble"
    subprocess.run([sys.executable, "-m", "seq2seq", "ensemble", *arguments.models, "-o", str(folder)], check=True)
    names = [*arguments.models, f"ensemble of {len(arguments.models)}"]
    translators = [Translator.load(path, DecodingOptions()) for path in [*arguments.models, folder]]
    for translator in translators:
        translator.translate(["Guten Morgen."])  # compile before timing
    print(f"{cpu_name()}; beam 5; first {arguments.lines} lines of each set")
    for prefix in arguments.sets.split(","):
        data = REPO.parent / "shared" / "data" / prefix
        sources = read(data.with_name(data.name + ".de.gz"), arguments.lines)
        references = read(data.with_name(data.name + ".en.gz"), arguments.lines)
        for name, translator in zip(names, translators):
            started = time.perf_counter()
            outputs = [t.text for t in translator.translate(sources)]
            seconds = time.perf_counter() - started
            bleu = sacrebleu.corpus_bleu(outputs, [references]).score
            print(f"{prefix:<16} {name:<40} BLEU {bleu:6.2f}  {seconds:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
