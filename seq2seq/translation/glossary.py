"""Terminology glossaries: where a source term occurs, its target term must appear in the translation.

A glossary file has one term a line: the source term, a tab, the target
term (each one word or several); blank lines and lines starting with `#`
are skipped. A source term matches the sentence ignoring case (Unicode case
folding) and only as whole words: `Haus` matches "haus" and "HAUS" but not
"Hausboot"; white space inside a term matches any white space. Where terms
overlap, the longer one wins, then the earlier. The target term is forced
exactly as written (its case included) by lexically constrained beam search
(:mod:`seq2seq.core.constraints`), once per matching source term, in the
place the model chooses; it is not pasted in after decoding, and a term the
source does not contain is not forced. Inflection is the user's concern:
`Haus` does not match "Häuser", and the target term is not inflected to fit
the sentence; list each form that matters.

A target term must be spelt by the model's target vocabulary (no
`<unk>` piece): :meth:`Glossary.check` says which line is not.
"""

from __future__ import annotations

import dataclasses
import os
import re

from seq2seq.errors import UserError

# At most this many terms are forced in one sentence (further matches are left to the model and counted),
# each at most this many target subwords.
MAX_TERMS = 16
MAX_TERM_TOKENS = 32


@dataclasses.dataclass(frozen=True)
class Term:
    source: str
    target: str
    line: int  # in the glossary file (0: given in code)


class Glossary:
    """Source terms and their target terms (see the module doc).

    Args:
        terms: `(source, target)` pairs, or :class:`Term` objects.
        name: what error messages call it (the file's path).
    """

    def __init__(self, terms, name: str = "glossary"):
        self.name = name
        self.terms: list[Term] = []
        seen: dict[str, Term] = {}
        for number, term in enumerate(terms, start=1):
            if not isinstance(term, Term):
                source, target = term
                term = Term(str(source), str(target), 0)
            where = f"{name}, line {term.line}" if term.line else f"{name}, term {number}"
            source, target = " ".join(term.source.split()), " ".join(term.target.split())
            if not source or not target:
                raise UserError(f"{where}: the source and the target term must both be non-empty.")
            key = source.casefold()
            if key in seen:
                first = seen[key]
                raise UserError(
                    f"{where}: source term {source!r} is already listed"
                    + (f" on line {first.line}" if first.line else "")
                    + "; keep one target term for it."
                )
            seen[key] = term = Term(source, target, term.line)
            self.terms.append(term)
        ordered = sorted(self.terms, key=lambda t: -len(t.source))
        self._by_key = {term.source.casefold(): term for term in self.terms}
        pattern = "|".join(r"\s+".join(re.escape(word) for word in term.source.split()) for term in ordered)
        self._pattern = re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE) if ordered else None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Glossary:
        """The glossary of a TSV file (see the module doc); a bad line is a `UserError` naming it."""
        from seq2seq.textio import read_lines

        terms = []
        for number, line in enumerate(read_lines(path), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 2:
                raise UserError(
                    f"{path}, line {number}: {len(fields)} tab-separated fields; a glossary line is "
                    "'source term<TAB>target term'."
                )
            terms.append(Term(fields[0], fields[1], number))
        return cls(terms, str(path))

    def __len__(self) -> int:
        return len(self.terms)

    def matches(self, sentence: str) -> list[Term]:
        """The terms whose source occurs in `sentence`, in order of occurrence (see the module doc)."""
        if self._pattern is None:
            return []
        found = (
            self._by_key.get(" ".join(match.group().split()).casefold()) for match in self._pattern.finditer(sentence)
        )
        return [term for term in found if term is not None]

    def check(self, target_vocab) -> None:
        """`UserError` naming the first target term the vocabulary cannot spell, or that is too long."""
        for number, term in enumerate(self.terms, start=1):
            where = f"{self.name}, line {term.line}" if term.line else f"{self.name}, term {number}"
            ids = target_vocab.encode(term.target)
            if target_vocab.unk_id in ids:
                pieces = [target_vocab.processor.id_to_piece(i) for i in ids]
                missing = "".join(
                    ch for ch in term.target if target_vocab.unk_id in target_vocab.encode(ch) and not ch.isspace()
                )
                raise UserError(
                    f"{where}: the model's target vocabulary cannot spell {term.target!r} "
                    f"(not in it: {missing or pieces!r}); write the term with characters the model knows."
                )
            if len(ids) > MAX_TERM_TOKENS:
                raise UserError(
                    f"{where}: target term {term.target!r} is {len(ids)} subwords; at most {MAX_TERM_TOKENS}."
                )

    def constraints(self, sentence: str, target_vocab) -> tuple[list[list[int]], int]:
        """`(token ids of each target term to force, terms left out)` for `sentence` (at most `MAX_TERMS`)."""
        found = self.matches(sentence)
        return [target_vocab.encode(term.target) for term in found[:MAX_TERMS]], max(0, len(found) - MAX_TERMS)


def word_continuations(target_vocab):
    """Bool `(vocab,)`: the pieces that continue a word (no word-start mark, a letter or digit in them), which
    may not follow a forced term, so that "dog" is not forced as "dogs"."""
    import numpy as np

    pieces = [target_vocab.processor.id_to_piece(i) for i in range(len(target_vocab))]
    return np.array(
        [
            i > target_vocab.eos_id and not p.startswith("\u2581") and any(c.isalnum() for c in p)
            for i, p in enumerate(pieces)
        ]
    )


def as_glossary(glossary) -> Glossary | None:
    """A :class:`Glossary` from one, a path, a `{source: target}` dict or `(source, target)` pairs; None stays."""
    if glossary is None or isinstance(glossary, Glossary):
        return glossary
    if isinstance(glossary, (str, os.PathLike)):
        return Glossary.load(glossary)
    if isinstance(glossary, dict):
        return Glossary(glossary.items())
    return Glossary(glossary)
