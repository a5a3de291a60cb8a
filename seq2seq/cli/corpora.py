"""Corpus commands: `clean-split` (honest dev and test sets carved from a parallel corpus) and
`split-sentences` (paragraphs to sentences, the first step of back-translation)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from seq2seq.cli.arguments import number, positive_int, seed_number
from seq2seq.errors import UserError


def add_corpus_commands(commands) -> None:
    """`seq2seq clean-split` and `split-sentences` on the `commands` subparsers."""
    split = commands.add_parser(
        "clean-split", help="dev and test sets of a parallel corpus whose sentences (and near copies) are not in train"
    )
    split.add_argument("prefix", help="the corpus: PREFIX.SRC and PREFIX.TGT, plain or .gz")
    split.add_argument("--languages", nargs=2, default=["de", "en"], metavar=("SRC", "TGT"), help="(default: de en)")
    split.add_argument("--size", type=positive_int("--size"), default=2000, help="pairs in dev and in test each")
    split.add_argument(
        "--threshold",
        type=number(float, "--threshold", 0.0, highest=1.0),
        default=0.6,
        help="character 4-gram Jaccard above which two sentences are near copies (default: 0.6)",
    )
    split.add_argument("--seed", type=seed_number(), default=0)
    split.add_argument("-o", "--output", required=True, help="folder for {train,dev,test}.{SRC,TGT}.gz and split.json")
    split.add_argument("--overwrite", action="store_true", help="replace a split written before")
    split.set_defaults(handler="seq2seq.cli.corpora:clean_split")

    sentences = commands.add_parser(
        "split-sentences", help="one sentence a line from paragraphs (monolingual text for back-translation)"
    )
    sentences.add_argument("input", help="text file, one paragraph a line (plain or .gz)")
    sentences.add_argument("--language", default="en", help="the text's language code (default: en)")
    sentences.add_argument("-o", "--output", required=True, help="write here (atomically; .gz compresses)")
    sentences.add_argument("--max-lines", type=positive_int("--max-lines"), help="stop after this many sentences")
    sentences.set_defaults(handler="seq2seq.cli.corpora:split_sentences")


def _corpus_file(prefix: str, language: str) -> Path:
    for suffix in ("", ".gz"):
        if Path(f"{prefix}.{language}{suffix}").is_file():
            return Path(f"{prefix}.{language}{suffix}")
    raise UserError(f"{prefix}.{language}: not found (plain or .gz).")


def clean_split(arguments) -> int:
    from seq2seq.outputs import atomic_directory
    from seq2seq.textio import read_lines
    from seq2seq.translation.clean_split import clean_split as split

    output = Path(arguments.output)
    if output.exists() and not (arguments.overwrite and (output / "split.json").is_file()):
        raise UserError(f"{output}: exists; pass --overwrite to replace a split written before (with its split.json).")
    files = [_corpus_file(arguments.prefix, language) for language in arguments.languages]
    sides = [read_lines(path) for path in files]
    if len(sides[0]) != len(sides[1]):
        raise UserError(f"{files[0]} has {len(sides[0])} lines but {files[1]} has {len(sides[1])}; not parallel.")
    pairs = list(zip(*sides))
    if 2 * arguments.size >= len(pairs):
        raise UserError(f"--size {arguments.size}: the corpus has {len(pairs)} pairs; dev and test need fewer.")
    train, dev, test, counts = split(pairs, arguments.size, arguments.threshold, arguments.seed)
    with atomic_directory(output) as folder:
        for name, indices in (("train", train), ("dev", dev), ("test", test)):
            for side, language in enumerate(arguments.languages):
                with gzip.open(folder / f"{name}.{language}.gz", "wt", encoding="utf-8") as handle:
                    handle.writelines(pairs[index][side] + "\n" for index in indices)
        summary = {
            **counts,
            "train": len(train),
            "dev": len(dev),
            "test": len(test),
            "threshold": arguments.threshold,
            "seed": arguments.seed,
            "files": [str(path) for path in files],
        }
        (folder / "split.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary))
    return 0


def split_sentences(arguments) -> int:
    """`split-sentences`: each paragraph's sentences (Moses heuristics, `sentence-splitter`), one a line."""
    from sentence_splitter import SentenceSplitter, SentenceSplitterException

    from seq2seq.outputs import atomic_write, check_output_path
    from seq2seq.textio import iterate_lines
    from seq2seq.translation.segments import sentences

    try:
        splitter = SentenceSplitter(language=arguments.language)
    except SentenceSplitterException:
        raise UserError(
            f"--language {arguments.language}: sentence-splitter has no rules for it; use a code such as en or de."
        ) from None
    output = Path(arguments.output)
    count = 0
    check_output_path(output)
    binary = output.suffix == ".gz"
    with atomic_write(output, "wb" if binary else "w", encoding=None if binary else "utf-8") as raw:
        handle = gzip.open(raw, "wt", encoding="utf-8") if binary else raw
        for line in iterate_lines(arguments.input):
            for sentence in sentences(line, splitter):
                if arguments.max_lines is not None and count >= arguments.max_lines:
                    break
                handle.write(sentence + "\n")
                count += 1
        if handle is not raw:
            handle.close()
    print(f"wrote {count} sentences to {output}")
    return 0
