"""Inline markup on real sentences: how often a tag lands around the right words, and that every line is well-formed.

Usage (from the repository root, nothing else running):
    python bench/markup_bench.py [--model general_de_en] [--set tatoeba/dev] [--lines 2000]

The tagged test set is made here from real dev sentences, with a gold answer
that does not come from the model's attention: a word the translation must
copy unchanged (a name such as "Tom" or "Boston", or a number) that occurs
once in the source (not as its first word) and once in the model's plain
translation is wrapped in an element, in turn `<b>…</b>`, `<a href="…">…</a>`
(an attribute holding `&amp;` and `>`), `<i><b>…</b></i>` and `<b>…</b>`
followed by `<br/>` and a `{placeholder}` at the end of the sentence. Each
tagged line is translated with markup on. A tag is placed right when its
element holds exactly that word in the output (no punctuation either); every
output is checked for being well-formed with the same parser (each element
opened and closed once, nested) and for holding every element of its
source. Printed: lines, the share placed right, the share well-formed, and
the time against translating the same lines without tags, and what
aligning the untagged translations (`translate --alignments`) adds, on
this CPU.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
import time

from common import REPO, cpu_name

COPYABLE = re.compile(r"[A-Z][a-z]+|\d+")
ELEMENTS = (
    ("<b>", "</b>", ""),
    ('<a href="https://example.org/?q=1&amp;x=2" title="a > b">', "</a>", ""),
    ("<i><b>", "</b></i>", ""),
    ("<b>", "</b>", "<br/>"),
)


def tagged_cases(sources: list[str], plain: list[str]) -> list[tuple[str, str, str]]:
    """`(plain source, tagged source, gold word)` of each sentence with a copyable word (see the module doc)."""
    cases = []
    for source, output in zip(sources, plain):
        words = source.split()
        bare = [word.strip(".,;:!?\"'()") for word in words]
        outputs = [word.strip(".,;:!?\"'()") for word in output.split()]
        for index in range(1, len(words)):
            word = bare[index]
            if COPYABLE.fullmatch(word) and bare.count(word) == 1 and outputs.count(word) == 1:
                opening, closing, after = ELEMENTS[len(cases) % len(ELEMENTS)]
                tagged = words[index].replace(word, f"{opening}{word}{closing}{after}", 1)
                line = " ".join(words[:index] + [tagged] + words[index + 1 :]) + " {name}"
                cases.append((source, line, word))
                break
    return cases


def every_element(root) -> list[str]:
    found = []
    for child in root.children:
        found += [child.start_text] + every_element(child)
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="general_de_en")
    parser.add_argument("--set", default="tatoeba/dev", help="a PREFIX under ../shared/data with .de.gz")
    parser.add_argument("--lines", type=int, default=2000)
    arguments = parser.parse_args()
    from seq2seq import DecodingOptions, Translator
    from seq2seq.errors import UserError
    from seq2seq.translation.markup import parse

    with gzip.open(REPO.parent / "shared" / "data" / f"{arguments.set}.de.gz", "rt", encoding="utf-8") as handle:
        sources = [line.rstrip("\n") for _, line in zip(range(arguments.lines), handle)]
    translator = Translator.load(arguments.model, DecodingOptions(beam_size=5))
    plain = [t.text for t in translator.translate(sources)]
    cases = tagged_cases(sources, plain)
    started = time.perf_counter()
    untagged = [t.text for t in translator.translate([source for source, _, _ in cases])]
    plain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    translator.align([source for source, _, _ in cases], untagged)
    align_seconds = time.perf_counter() - started
    started = time.perf_counter()
    outputs = [t.text for t in translator.translate([line for _, line, _ in cases], markup=True)]
    markup_seconds = time.perf_counter() - started
    right = well_formed = 0
    for (_, line, word), output in zip(cases, outputs):
        try:
            _, root = parse(output)
        except UserError:
            continue
        well_formed += every_element(root) == every_element(parse(line)[1])
        element = next(child for child in root.children if child.end is not None)
        inner = output[output.index(element.start_text) + len(element.start_text) :]
        inner = inner[: inner.index(element.end)] if element.end in inner else ""
        inner = re.sub(r"<[^>]*>", "", inner).strip()
        right += inner == word
    print(f"{cpu_name()}; model {arguments.model}; {arguments.set}, first {len(sources)} lines; beam 5")
    print(f"tagged lines: {len(cases)} (a copyable word once in the source and once in the plain translation)")
    print(f"placed around the right word: {right} ({100 * right / len(cases):.1f} %)")
    print(f"well-formed, every element kept: {well_formed} ({100 * well_formed / len(cases):.1f} %)")
    print(
        f"seconds: {plain_seconds:.1f} without tags, {markup_seconds:.1f} with markup "
        f"({markup_seconds / plain_seconds:.2f} x)"
    )
    print(
        f"alignments (translate --alignments) of the untagged lines: {align_seconds:.1f} s more "
        f"({(plain_seconds + align_seconds) / plain_seconds:.2f} x translating alone)"
    )
    for (_, line, _), output in list(zip(cases, outputs))[:4]:
        print(f"  {line}\n  -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
