"""Translating lists of sentences with a trained model: batching, ordering, truncation."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Sequence

import numpy as np

from seq2seq.core.constraints import term_arrays
from seq2seq.core.decoding import DecodingOptions
from seq2seq.core.searcher import Searcher
from seq2seq.core.subwords import SubwordVocabulary
from seq2seq.errors import UserError
from seq2seq.models.encoder_decoder import Seq2SeqModel

# Beam-search steps between the moments finished sentences leave a batch (see `Searcher`'s compact_every),
# and the multiple of sentences a batch shrinks to. Together with source widths padded to multiples of 8,
# this bounds the distinct shapes a long file sends to the kernels, each of which keeps memory
# (bench/memory_bench.py, 10,000 news lines, beam 5, Intel Xeon: peak RSS 1,493 MiB with any row count and
# width, 1,471 with widths of 8, 1,302 with widths of 8 and rows of 4,
# 1,229 with rows of 8, which made beam search 9 % slower).
COMPACT_EVERY = 4
COMPACT_MULTIPLE = 4
# At most this many source subwords (sentences x longest) per batch: long sentences come in smaller batches,
# which bounds the memory of the encoder and the attention (bench/memory_bench.py, 10,000 news lines, beam 5:
# peak RSS 1,561 MiB, against 1,918 with 64 sentences in every batch; 1,024 gave 1,558).
BATCH_TOKENS = 2048


def length_batches(encoded: list, batch_size: int, max_tokens: int) -> list[list]:
    """`(index, ids)` pairs sorted by length, cut into batches of at most `batch_size` pairs and `max_tokens`
    padded source tokens (a longer sentence alone forms its own batch)."""
    batches, current = [], []
    for item in encoded:
        if current and (len(current) == batch_size or (len(current) + 1) * len(item[1]) > max_tokens):
            batches.append(current)
            current = []
        current.append(item)
    return batches + ([current] if current else [])


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    """One translation of a sentence."""

    text: str
    score: float  # sum of log-probabilities of the output tokens (<eos> included)
    normalized_score: float  # score / length penalty (equals score for greedy search)


class Translation(tuple):
    """The n-best hypotheses of one sentence (:class:`Hypothesis`), best first; `text` and `score` are the best's."""

    @property
    def text(self) -> str:
        return self[0].text

    @property
    def score(self) -> float:
        return self[0].score

    @property
    def n_best(self) -> list[Hypothesis]:
        return list(self)


@dataclasses.dataclass
class TranslationStats:
    sentences: int = 0
    empty: int = 0  # empty or white-space lines, answered with an empty line
    truncated: int = 0  # sources cut to `max_source_tokens`
    terms: int = 0  # glossary target terms forced
    terms_left_out: int = 0  # glossary matches beyond `glossary.MAX_TERMS` in a sentence, left to the model
    unmet: int = 0  # sentences whose translation misses a forced term (it reached its length limit)


class Translator:
    """Translates sentences with greedy search, beam search or sampling.

    Lines are tokenized with the model's SentencePiece model, sorted by length
    into batches padded to a multiple of 8 tokens beyond the batch's longest
    line (few distinct shapes: fewer compiled graphs where shapes are static,
    less kernel memory everywhere), and returned in input order. Each line's output
    is limited by its own length, so it does not depend on its batch. Empty and white-space-only lines give an empty
    translation without running the model. A batch holds at most
    `batch_size` lines and `BATCH_TOKENS` padded source subwords, so long
    lines come in smaller batches. Sources longer than
    `max_source_tokens` subwords are truncated (counted in `stats.truncated`).

    Args:
        model, source_vocab, target_vocab: from `load_translation_model`.
        options: the :class:`~seq2seq.core.decoding.DecodingOptions` (beam,
            n-best, length limits, sampling, precision, ...); default: its
            defaults (beam search with a beam of 5).
        language_model: shallow fusion with this target-side language model
            (sharing the target vocabulary, weighted by `options.lm_weight`;
            see :mod:`seq2seq.translation.fusion`).
        shortlist: a :class:`~seq2seq.translation.shortlist.Shortlist`: each
            batch scores only its candidate words (None: the whole vocabulary).
    """

    def __init__(
        self,
        model: Seq2SeqModel,
        source_vocab: SubwordVocabulary,
        target_vocab: SubwordVocabulary,
        options: DecodingOptions | None = None,
        *,
        language_model=None,
        shortlist=None,
    ):
        self.options = options = options if options is not None else DecodingOptions()
        self.model = model  # the translation model itself (for attention), fused or not
        self.language_model, self.shortlist, self.others = language_model, shortlist, {}
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.n_best = options.n_best
        self.max_source_tokens = options.max_source_tokens
        if language_model is not None:
            from seq2seq.translation.fusion import ShallowFusion

            model = ShallowFusion(model, language_model, weight=options.lm_weight)
        self.searcher = Searcher.for_options(
            model,
            target_vocab.eos_id,
            options,
            # greedy steps are too cheap: bursts that drop finished sentences cost more than they save
            compact_every=COMPACT_EVERY if options.beam_size > 1 else None,
            compact_multiple=COMPACT_MULTIPLE,
            shortlist=shortlist,
        )
        self.stats = TranslationStats()
        self._word_continuations = None  # see glossary.word_continuations

    def _continuations(self):
        if self._word_continuations is None:
            from seq2seq.translation.glossary import word_continuations

            self._word_continuations = word_continuations(self.target_vocab)
        return self._word_continuations

    def _terms(self, glossary, line: str) -> list[list[int]]:
        terms, left_out = glossary.constraints(line, self.target_vocab)
        self.stats.terms += len(terms)
        self.stats.terms_left_out += left_out
        return terms

    @classmethod
    def load(
        cls,
        model: str | os.PathLike = "general_de_en",
        options: DecodingOptions | None = None,
        *,
        shortlist: bool = False,
        language_model: str | os.PathLike | None = None,
    ) -> Translator:
        """A translator of the model directory `model` or of the installed model of that name.

        Names are looked up as :mod:`seq2seq.catalog` says (the default is the
        shipped German-English model). `shortlist`: use the model's
        `shortlist.npz`; `language_model`: a target-side language model
        (directory or name) for shallow fusion.
        """
        from seq2seq.catalog import resolve
        from seq2seq.model_dirs import load_language_model, load_translation_model
        from seq2seq.translation.fusion import check_vocabularies
        from seq2seq.translation.shortlist import load_shortlist

        directory = resolve(model)
        network, source_vocab, target_vocab = load_translation_model(directory)
        fused = None
        if language_model is not None:
            fused, lm_vocab = load_language_model(language_model)
            check_vocabularies(lm_vocab, target_vocab, language_model)
        listed = load_shortlist(directory, network) if shortlist else None
        return cls(network, source_vocab, target_vocab, options, language_model=fused, shortlist=listed)

    def _translate_marked(self, lines, batch_size, progress, options, glossary) -> list[Translation]:
        from seq2seq.translation.markup import parse, restore

        parsed = [parse(line, f"line {number}") for number, line in enumerate(lines, start=1)]
        plain = [text for text, _ in parsed]
        results = self.translate(plain, batch_size, progress, options, glossary)
        rows = [(i, k) for i, (_, root) in enumerate(parsed) if root.children for k in range(len(results[i]))]
        texts = [results[i][k].text for i, k in rows]
        pairs = dict(zip(rows, self.align([plain[i] for i, _ in rows], texts, content_only=True)))
        return [
            Translation(
                dataclasses.replace(h, text=restore(plain[i], parsed[i][1], h.text, pairs.get((i, k), [])))
                for k, h in enumerate(translation)
            )
            for i, translation in enumerate(results)
        ]

    def align(
        self, sources: Sequence[str], translations: Sequence[str], content_only: bool = True
    ) -> list[list[tuple[int, int]]]:
        """The word alignment `[(source word, target word), ...]` of each source and its translation, from the
        model's attention (see :mod:`seq2seq.translation.alignment`; `pharaoh` there writes `0-0 1-2`).

        `content_only` (the default): only links between words' letters and
        digits that both directions of the attention agree on (see
        `alignment.word_pairs`); False: every target subword linked to the
        source subword it weighs most (every target word aligned, fewer
        links right)."""
        from seq2seq.translation.alignment import align

        return align(
            self.model,
            self.source_vocab,
            self.target_vocab,
            sources,
            translations,
            self.max_source_tokens,
            content_only,
        )

    def translate(
        self,
        lines: Sequence[str],
        batch_size: int | None = None,
        progress=None,
        options: DecodingOptions | None = None,
        glossary=None,
        markup: bool = False,
    ) -> list[Translation]:
        """The translation (n-best hypotheses) of every line, in input order.

        Args:
            batch_size: sentences per batch (default: the options' `batch_size`).
            progress: optional callable receiving the number of sentences done.
            options: other decoding options for this call (a translator for
                them is made once and kept; its counts are its own).
            glossary: a :class:`~seq2seq.translation.glossary.Glossary` (or a
                TSV path, a `{source: target}` dict): the target term of each
                source term a line holds is forced into its translation by
                constrained beam search (see that module). Not with sampling
                or a shortlist.
            markup: lines hold inline XML/HTML tags and `{placeholders}`: the
                text is translated without them and they are put back around
                the aligned target words (see :mod:`seq2seq.translation.markup`;
                a line whose tags do not nest is a `UserError` naming it).
        """
        from seq2seq.translation.glossary import as_glossary

        glossary = as_glossary(glossary)
        if markup:
            return self._translate_marked(lines, batch_size, progress, options, glossary)
        if options is not None and options != self.options:
            if options not in self.others:
                self.others[options] = Translator(
                    self.model,
                    self.source_vocab,
                    self.target_vocab,
                    options,
                    language_model=self.language_model,
                    shortlist=self.shortlist,
                )
            return self.others[options].translate(lines, batch_size, progress, glossary=glossary)
        if glossary is not None:
            if self.options.sampling or self.shortlist is not None:
                raise UserError(
                    "a glossary needs beam search over the whole vocabulary: not with sampling or a shortlist."
                )
            glossary.check(self.target_vocab)  # cheap; a cache by id() could trust a new glossary at an old address
        batch_size = batch_size or self.options.batch_size
        results: list[Translation | None] = [None] * len(lines)
        encoded = []
        for index, line in enumerate(lines):
            if not line.strip():
                results[index] = Translation([Hypothesis("", 0.0, 0.0)] * self.n_best)
                self.stats.empty += 1
                continue
            ids = self.source_vocab.encode(line)
            if len(ids) > self.max_source_tokens:
                ids = ids[: self.max_source_tokens]
                self.stats.truncated += 1
            encoded.append((index, ids))
        encoded.sort(key=lambda item: len(item[1]))
        self.stats.sentences += len(lines)
        if progress is not None and self.stats.empty:
            progress(len(lines) - len(encoded))
        for chunk in length_batches(encoded, batch_size, BATCH_TOKENS):
            longest = len(chunk[-1][1])
            width = 8 * math.ceil(longest / 8)  # few distinct shapes (see COMPACT_MULTIPLE)
            source = np.zeros((len(chunk), width), "int32")
            for row, (_, ids) in enumerate(chunk):
                source[row, : len(ids)] = ids
            terms = [self._terms(glossary, lines[index]) for index, _ in chunk] if glossary is not None else []
            if any(terms):
                output = self.searcher.search(source, term_arrays(terms), self._continuations())
                self.stats.unmet += int(np.sum(~output["satisfied"][:, 0] & np.array([bool(t) for t in terms])))
            else:
                output = self.searcher.search(source)
            tokens, scores = output["tokens"], output["scores"]
            normalized = output["normalized_scores"]
            for row, (index, _) in enumerate(chunk):
                results[index] = Translation(
                    Hypothesis(
                        self.target_vocab.decode(tokens[row, k]), float(scores[row, k]), float(normalized[row, k])
                    )
                    for k in range(self.n_best)
                )
            if progress is not None:
                progress(len(chunk))
        return results


def stderr_progress(total: int, description: str = "translating"):
    """A tqdm progress bar on stderr; returns `(update, close)`."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="sent", file=sys.stderr, leave=False, disable=total == 0)
    return bar.update, bar.close


def attention_matrix(
    model: Seq2SeqModel, source_vocab: SubwordVocabulary, target_vocab: SubwordVocabulary, source: str, target: str
):
    """The model's attention while it reads `target` as its output for `source` (teacher forcing).

    Returns `(weights, source_pieces, target_pieces)`: weights has one row per
    output piece (the closing `</s>` included) and one column per source piece.
    """
    source_ids, target_ids = source_vocab.encode(source), target_vocab.encode(target)
    inputs = {
        "source_ids": np.array([source_ids], "int32"),
        "target_inputs": np.array([[target_vocab.bos_id] + target_ids], "int32"),
    }
    _, weights = model(inputs, training=False, return_attention=True)
    return (
        np.asarray(weights, "float32")[0],
        [source_vocab.processor.id_to_piece(i) for i in source_ids],
        [target_vocab.processor.id_to_piece(i) for i in target_ids] + ["</s>"],
    )
