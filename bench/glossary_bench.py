"""What a glossary buys and costs: the share of terms produced, BLEU with and without, and the time.

Usage (from the repository root, nothing else running):
    python bench/glossary_bench.py [--model general_de_en] [--set multi30k/val] [--lines 500]

The test terms are built from real data, one for each sentence that
gives one: each dev sentence is translated without a glossary; the model's
attention aligns the source to the *reference* translation (teacher
forcing, see seq2seq/translation/alignment.py), and the first German noun
(a capitalised word of letters only, not the first word, 4+ characters)
whose aligned reference word (letters only, 3+ characters) is missing from
the unconstrained translation gives that sentence's glossary: "noun ->
reference word". Those sentences are then translated one at a time, with
their own one-term glossary and without, and compared. Printed: how many
sentences got a term, the share of terms produced in the output (whole
words), BLEU (sacrebleu) of those sentences without and with their terms
against their references, and the seconds of each (one sentence per call
both times, beam 5), on this CPU.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import time
from pathlib import Path

from common import REPO, cpu_name

WORD = re.compile(r"[^\W\d_]+")


def read(path: Path, lines: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for _, line in zip(range(lines), handle)]


def term_of(source: str, reference: str, output: str, pairs) -> tuple[str, str] | None:
    """The sentence's `(source noun, reference word)` term (see the module doc), or None."""
    source_words, reference_words = source.split(), reference.split()
    have = {word.casefold() for word in WORD.findall(output)}
    for s, t in pairs:
        word = source_words[s].strip(".,;:!?\"'()")
        target = reference_words[t].strip(".,;:!?\"'()")
        noun = s > 0 and WORD.fullmatch(word) and word[0].isupper() and len(word) >= 4
        if noun and WORD.fullmatch(target) and len(target) >= 3 and target.casefold() not in have:
            return word, target
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="general_de_en")
    parser.add_argument("--set", default="multi30k/val", help="a PREFIX under ../shared/data with .de.gz and .en.gz")
    parser.add_argument("--lines", type=int, default=500)
    arguments = parser.parse_args()
    import sacrebleu

    from seq2seq import DecodingOptions, Translator
    from seq2seq.translation.glossary import Glossary

    data = REPO.parent / "shared" / "data" / arguments.set
    sources = read(data.with_name(data.name + ".de.gz"), arguments.lines)
    references = read(data.with_name(data.name + ".en.gz"), arguments.lines)
    translator = Translator.load(arguments.model, DecodingOptions(beam_size=5))
    plain = [t.text for t in translator.translate(sources)]

    alignments = translator.align(sources, references)
    cases = []
    for source, reference, output, pairs in zip(sources, references, plain, alignments):
        term = term_of(source, reference, output, pairs)
        if term is not None:
            cases.append((source, reference, Glossary([term], "bench glossary")))
    translator.translate([cases[0][0]], glossary=cases[0][2])  # compile the constrained search before timing
    translator.stats.unmet = 0
    without, with_terms, produced = [], [], 0
    plain_seconds = forced_seconds = 0.0
    for source, _, glossary in cases:
        started = time.perf_counter()
        without.append(translator.translate([source])[0].text)
        middle = time.perf_counter()
        with_terms.append(translator.translate([source], glossary=glossary)[0].text)
        plain_seconds, forced_seconds = plain_seconds + middle - started, forced_seconds + time.perf_counter() - middle
        words = [word.casefold() for word in WORD.findall(with_terms[-1])]
        produced += glossary.terms[0].target.casefold() in words
    references = [reference for _, reference, _ in cases]
    print(f"{cpu_name()}; model {arguments.model}; {arguments.set}, first {len(sources)} lines; beam 5")
    print(f"{len(cases)} sentences got a term (a reference word the unconstrained translation lacks)")
    print(
        f"terms produced: {produced} of {len(cases)} ({100 * produced / max(1, len(cases)):.1f} %); "
        f"translations missing their term (length limit): {translator.stats.unmet}"
    )
    for name, outputs, seconds in (("without", without, plain_seconds), ("with", with_terms, forced_seconds)):
        bleu = sacrebleu.corpus_bleu(outputs, [references]).score
        print(f"{name} the terms: BLEU {bleu:.2f}; {seconds:.1f} s ({len(cases) / seconds:.1f} sentences/s)")
    print(f"time with / without: {forced_seconds / plain_seconds:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
