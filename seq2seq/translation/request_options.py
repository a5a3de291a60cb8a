"""What one predict request may ask of the server besides its sentences: a glossary, markup, alignments.

Top-level keys of the request body, beside `instances` or `inputs`:

- `"glossary": {"source term": "target term", ...}`: these terms are forced
  in this request's translations (see :mod:`seq2seq.translation.glossary`;
  at most `MAX_GLOSSARY_TERMS` terms);
- `"markup": true`: the sentences hold inline tags and `{placeholders}`,
  kept around the aligned words (see :mod:`seq2seq.translation.markup`);
- `"alignments": true`: each prediction gains `alignments`, the Pharaoh word
  alignment (`0-0 1-2 ...`) of the source and its translation.

A bad value answers 400 for that request alone, naming the key (or the
instance whose tags do not nest). The sentences of a request with options
travel through the shared batcher as :class:`Sentence` objects (strings that
carry their request's options), and :func:`translator_function` translates
each request's sentences with that request's options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from seq2seq.errors import UserError

MAX_GLOSSARY_TERMS = 1000  # terms in one request's glossary
OUTPUTS = ("translations", "scores", "nbest", "nbest_scores")


class OptionError(ValueError):
    """A request's option is not usable: answered 400 with this message."""


@dataclasses.dataclass(frozen=True, eq=False)
class RequestOptions:
    glossary: object = None  # a Glossary
    markup: bool = False
    alignments: bool = False


PLAIN = RequestOptions()  # the options of a sentence that asks for none: all such sentences share one group


class Sentence(str):
    """A request's sentence with its :class:`RequestOptions`."""

    options: RequestOptions


def with_options(document: dict, items: list[str], max_chars: int) -> list[str]:
    """`items`, as :class:`Sentence` objects when `document` asks for options; raises :class:`OptionError`."""
    from seq2seq.translation.glossary import Glossary
    from seq2seq.translation.markup import parse

    terms, markup, alignments = (
        document.get("glossary"),
        document.get("markup", False),
        document.get("alignments", False),
    )
    for key, value in (("markup", markup), ("alignments", alignments)):
        if not isinstance(value, bool):
            raise OptionError(f'"{key}" must be true or false')
    if markup and alignments:
        raise OptionError('"markup" and "alignments" do not go together: the alignment is of the text without tags')
    glossary = None
    if terms is not None:
        if not isinstance(terms, dict) or not all(isinstance(v, str) for v in terms.values()):
            raise OptionError('"glossary" must be an object of {"source term": "target term"} strings')
        if len(terms) > MAX_GLOSSARY_TERMS:
            raise OptionError(f'"glossary" has {len(terms)} terms; at most {MAX_GLOSSARY_TERMS}')
        if any(len(key) > max_chars or len(value) > max_chars for key, value in terms.items()):
            raise OptionError(f'"glossary": a term is longer than {max_chars} characters')
        try:
            glossary = Glossary(terms.items(), "the request's glossary") if terms else None
        except UserError as error:
            raise OptionError(str(error)) from None
    if markup:
        for index, item in enumerate(items):
            try:
                parse(item, f"instance {index}")
            except UserError as error:
                raise OptionError(str(error)) from None
    if glossary is None and not markup and not alignments:
        return items
    options = RequestOptions(glossary, markup, alignments)
    sentences = []
    for item in items:
        sentence = Sentence(item)
        sentence.options = options
        sentences.append(sentence)
    return sentences


def translator_function(translator, batch_size: int) -> Callable[[list[str]], list[dict]]:
    """`translate` for :func:`~seq2seq.translation.server.make_app` from a
    :class:`~seq2seq.translation.translator.Translator`: each request's sentences with its options.

    Its `check(options)` raises :class:`OptionError` for a glossary the model cannot spell (before queueing).
    """
    from seq2seq.translation.alignment import pharaoh

    def translate(lines: list[str]) -> list[dict]:
        groups: dict[int, tuple[RequestOptions, list[int]]] = {}
        for index, line in enumerate(lines):
            options = getattr(line, "options", PLAIN)
            groups.setdefault(id(options), (options, []))[1].append(index)
        results: list[dict | None] = [None] * len(lines)
        for options, indices in groups.values():
            texts = [str(lines[i]) for i in indices]
            translations = translator.translate(texts, batch_size, glossary=options.glossary, markup=options.markup)
            pairs = translator.align(texts, [t.text for t in translations]) if options.alignments else None
            for row, (index, hypotheses) in enumerate(zip(indices, translations)):
                results[index] = {
                    "translations": hypotheses[0].text,
                    "scores": hypotheses[0].normalized_score,
                    "nbest": [h.text for h in hypotheses],
                    "nbest_scores": [h.normalized_score for h in hypotheses],
                }
                if pairs is not None:
                    results[index]["alignments"] = pharaoh(pairs[row])
        return results

    def check(options: RequestOptions) -> None:
        if options.glossary is not None:
            try:
                options.glossary.check(translator.target_vocab)
            except UserError as error:
                raise OptionError(str(error)) from None

    translate.check = check
    return translate
