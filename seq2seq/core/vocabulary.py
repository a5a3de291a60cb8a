"""The vocabulary interface, and word- and character-level vocabularies built from training text.

:class:`TokenVocabulary` is what every vocabulary offers (word and character
:class:`Vocabulary` here, SentencePiece :class:`~seq2seq.core.subwords.SubwordVocabulary`);
code that takes any of them says so in its type hints.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from seq2seq.core.specials import SPECIALS
from seq2seq.errors import UserError
from seq2seq.outputs import atomic_write

LEVELS = ("word", "char")


class TokenVocabulary(Protocol):
    """Text <-> ids, with the special ids of :mod:`seq2seq.core.specials`."""

    level: str  # "word", "char" or "subword"
    pad_id: int
    unk_id: int
    bos_id: int
    eos_id: int

    def __len__(self) -> int: ...

    def encode(self, line: str) -> list[int]:
        """Ids of one line, no specials added."""

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids; padding and `<bos>` are skipped."""

    def save(self, path: str | Path) -> None:
        """Writes the vocabulary atomically."""


_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")


def split_tokens(line: str, level: str) -> list[str]:
    """Words split on ASCII white space (as `tf.strings.split` does), or the characters."""
    if level == "char":
        return list(line)
    return [token for token in _ASCII_SPACE.split(line) if token]


class Vocabulary:
    """Token <-> id maps; ids 0-3 are `<pad>`, `<unk>`, `<bos>`, `<eos>` (a :class:`TokenVocabulary`).

    Args:
        tokens: the ordinary tokens, most frequent first (specials are added).
        level: "word" (split on white space) or "char" (one token per
            character; `<eos>` stands for the line end).
    """

    def __init__(self, tokens: Iterable[str], level: str = "word"):
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}. Received: level={level!r}")
        self.level = level
        self.tokens = list(SPECIALS) + [token for token in tokens if token not in SPECIALS]
        self.index = {token: number for number, token in enumerate(self.tokens)}
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = (self.index[s] for s in SPECIALS)

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(
        cls, lines: Iterable[str], level: str = "word", max_size: int | None = None, min_frequency: int = 1
    ) -> Vocabulary:
        """Counts tokens in `lines`; keeps the most frequent (ties in first-seen order)."""
        counts = collections.Counter()
        for line in lines:
            counts.update(split_tokens(line, level))
        kept = [token for token, count in counts.most_common() if count >= min_frequency]
        if max_size is not None:
            kept = [token for token in kept if token not in SPECIALS][: max_size - len(SPECIALS)]
        return cls(kept, level)

    def encode(self, line: str) -> list[int]:
        """Ids of the tokens of one line (unknown tokens become `<unk>`), no specials."""
        unk = self.unk_id
        return [self.index.get(token, unk) for token in split_tokens(line, self.level)]

    def decode(self, ids: Iterable[int]) -> str:
        """Text for ids; specials other than `<unk>` are dropped, `<eos>` ends a char line."""
        pieces = []
        for number in ids:
            number = int(number)
            if number == self.eos_id and self.level == "char":
                pieces.append("\n")
            elif number in (self.pad_id, self.bos_id, self.eos_id):
                continue
            else:
                pieces.append(self.tokens[number])
        return ("" if self.level == "char" else " ").join(pieces)

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as handle:
            json.dump(
                {"format": "seq2seq-vocabulary/1", "level": self.level, "tokens": self.tokens},
                handle,
                ensure_ascii=False,
                indent=0,
            )

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("format") != "seq2seq-vocabulary/1":
                raise ValueError(f"unknown format {data.get('format')!r}")
            tokens = data["tokens"]
            if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
                raise ValueError("the first tokens are not the specials")
            return cls(tokens[len(SPECIALS) :], data["level"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UserError(f"{path}: not a seq2seq vocabulary file ({error}).") from None
