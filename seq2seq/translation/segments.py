"""Real text in, real text out: paragraph lines cut into sentences, long sentences into clauses,
and the spans a model cannot translate (URLs, e-mail addresses, numbers, unknown characters) carried over.

`translate --split-sentences` uses :func:`translate_paragraphs`: each input
line is split into sentences by `sentence_splitter` (Koehn and Schroeder's
Moses heuristic, with German non-breaking prefixes); a sentence longer than
the model takes (`max_source_tokens` subwords) is cut at clause punctuation,
then between words; all pieces of all lines are translated in the same
length-sorted batches, and each line's translations are joined with one
space onto one output line. Empty lines stay empty.

A protected span the translation lacks is put back by attention (the
"unknown word replacement" of Luong et al. 2015): the output word that
attends most to the span's source pieces is replaced by the span, unchanged;
a model without attention gets the span appended. So every URL, e-mail
address, number and word with characters outside the source vocabulary
appears in the output exactly as in the source.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from seq2seq.translation.translator import Translator, attention_matrix

# Linear time on any text: a URL or an e-mail address may not start right after a character that could be
# part of one (the lookbehinds), so a long run of word characters or of "www." is tried from one place, not
# from each of its characters (which made 80,000 characters take 49 s).
PROTECTED = re.compile(
    r"""
    (?<![\w./:@%+-])(?:https?://|www\.)[^\s<>"«»“”]+[^\s<>"«»“”.,;:!?)\]']  # URLs (closing punctuation out)
  | (?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+                                # e-mail addresses
  | \d+(?:[.,:/-]\d+)*                                                     # numbers, dates, times, decimals
""",
    re.VERBOSE,
)
CLAUSE = re.compile(r"(?<=[,;:])\s+|\s+(?=[–—-]\s)")


def sentences(line: str, splitter) -> list[str]:
    """The sentences of one line (none for an empty or white-space line)."""
    return [sentence for sentence in splitter.split(line.strip()) if sentence.strip()] if line.strip() else []


def fit(sentence: str, length: Callable[[str], int], limit: int) -> list[str]:
    """`sentence` cut into pieces of at most `limit` subwords: at clause punctuation, then between words.

    A single word longer than `limit` stays whole (the translator truncates it and counts it).
    """
    if length(sentence) <= limit:
        return [sentence]
    clauses = [clause for clause in CLAUSE.split(sentence) if clause]
    units = clauses if len(clauses) > 1 else sentence.split()
    if len(units) == 1:
        return [sentence]
    pieces, current = [], ""
    for unit in units:
        candidate = f"{current} {unit}".strip()
        if current and length(candidate) > limit:
            pieces.append(current)
            current = unit
        else:
            current = candidate
    pieces.append(current)
    return [part for piece in pieces for part in fit(piece, length, limit)]


def protected_spans(text: str, vocab) -> list[str]:
    """URLs, e-mail addresses, numbers, and words with characters the source vocabulary lacks."""
    spans = [match.group() for match in PROTECTED.finditer(text)]
    for word in text.split():
        if vocab.unk_id in vocab.encode(word) and not any(span in word for span in spans):
            spans.append(word.strip(".,;:!?\"'()[]«»„“”"))
    return [span for span in spans if span]


def restore(translator: Translator, source: str, output: str, spans: Sequence[str]) -> str:
    """`output` with every span of `spans` that it lacks put back (see the module doc)."""
    missing = [span for span in spans if span not in output]
    if not missing:
        return output
    model = translator.model
    if model.decoder.attention_kind == "none" or not output.strip():
        return " ".join([output.strip()] + missing).strip()
    processor = translator.source_vocab.processor
    weights, _, target_pieces = attention_matrix(
        model, translator.source_vocab, translator.target_vocab, source, output
    )
    pieces = processor.encode(source, return_type="proto").pieces  # with byte offsets into `source`
    target_pieces = target_pieces[:-1]  # the closing </s>
    words = _words(target_pieces)
    used: set[int] = set()
    source_bytes = source.encode("utf-8")
    for span in missing:
        start = source_bytes.find(span.encode("utf-8"))
        end = start + len(span.encode("utf-8"))
        columns = [i for i, piece in enumerate(pieces) if piece.begin < end and piece.end > start]
        scores = [
            (
                -np.inf
                if index in used or not _has_letters_or_digits(target_pieces, word)
                else float(weights[word][:, columns].sum())
            )
            for index, word in enumerate(words)
        ]
        if not columns or not words or max(scores) == -np.inf:
            target_pieces = target_pieces + ["▁" + span]
            continue
        best = int(np.argmax(scores))
        used.add(best)
        word = words[best]
        last = max(index for index in word if any(c.isalnum() for c in target_pieces[index]))
        target_pieces[word[0]] = "▁" + span  # trailing punctuation pieces of the word stay
        for index in word[1:]:
            if index <= last:
                target_pieces[index] = ""
    return "".join(target_pieces).replace("▁", " ").strip()


def _words(pieces: Sequence[str]) -> list[list[int]]:
    """Piece indices grouped into words (a piece starting with `▁` starts a word)."""
    words: list[list[int]] = []
    for index, piece in enumerate(pieces):
        if piece.startswith("▁") or not words:
            words.append([index])
        else:
            words[-1].append(index)
    return words


def _has_letters_or_digits(pieces: Sequence[str], word: list[int]) -> bool:
    return any(character.isalnum() for index in word for character in pieces[index])


def translate_paragraphs(
    translator: Translator,
    lines: Sequence[str],
    language: str = "de",
    batch_size: int = 64,
    progress_factory=None,
    glossary=None,
) -> list[str]:
    """One translated line per input line, each line split into sentences first (see the module doc).

    Args:
        progress_factory: optional callable `(total) -> (update, close)` for a
            progress bar over the sentences (pieces) to translate.
        glossary: terms to force in each sentence (see :meth:`Translator.translate`).
    """
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter(language=language)
    limit = translator.max_source_tokens
    owners, segments = [], []
    for number, line in enumerate(lines):
        for sentence in sentences(line, splitter):
            for piece in fit(sentence, lambda text: len(translator.source_vocab.encode(text)), limit):
                owners.append(number)
                segments.append(piece)
    update, close = progress_factory(len(segments)) if progress_factory else (None, lambda: None)
    try:
        results = translator.translate(segments, batch_size, update, glossary=glossary)
    finally:
        close()
    joined: list[list[str]] = [[] for _ in lines]
    for owner, segment, hypotheses in zip(owners, segments, results):
        text = restore(translator, segment, hypotheses[0].text, protected_spans(segment, translator.source_vocab))
        joined[owner].append(text)
    return [" ".join(part for part in parts if part) for parts in joined]
