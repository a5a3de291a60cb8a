"""`DecodingOptions`: how a model's outputs are searched for, stated once and checked once.

The command line (`translate`, `evaluate --model`, `serve`), the
:class:`~seq2seq.translation.translator.Translator`, the
:class:`~seq2seq.core.searcher.Searcher` and the exported SavedModel's
defaults all take their decoding options from this one frozen dataclass:
its defaults are the toolkit's defaults, and its ranges are the ranges the
command line checks (each option's range is in its field's metadata, read by
:func:`seq2seq.cli.arguments.decoding_arguments`). A bad value or a bad
combination raises `ValueError` naming the option when the object is built,
before any model is loaded.

This module imports nothing heavy, so the command line can use it before
Keras loads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from seq2seq.core.choices import MAX_OUTPUT_TOKENS, MAX_SEED, SEARCH_PRECISIONS, out_of_range


def _option(default: Any, doc: str, minimum: float | None = None, maximum: float | None = None, strict=False):
    """A field with its range (inclusive; `strict`: above `minimum`) and one line of help."""
    metadata = {"doc": doc, "minimum": minimum, "maximum": maximum, "strict": strict}
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class DecodingOptions:
    """How to search for outputs: greedy or beam search, or sampling; length limits; batching; precision.

    Attributes:
        beam_size: hypotheses kept per sentence (1: greedy search, or sampling).
        alpha: length-penalty exponent of beam search (Wu et al. 2016).
        n_best: hypotheses returned per sentence, at most `beam_size`.
        max_length_ratio, max_length_offset: an output stops after
            `ceil(ratio x source tokens + offset)` tokens, and at
            `MAX_OUTPUT_TOKENS` whatever they say.
        max_source_tokens: longer sources are truncated (and counted).
        batch_size: sentences per batch.
        temperature, top_k: sample instead of searching (needs `beam_size` 1).
        seed: the sampling seed; the same seed gives the same samples.
        lm_weight: the weight of a target-side language model's
            log-probabilities in shallow fusion (when one is given).
        precision: "float32", or "bfloat16" products with bfloat16 copies of
            the weights (faster on CPUs with AMX; outputs differ slightly).
        shortlist: score only the words of the model's lexical shortlist.
    """

    beam_size: int = _option(5, "beam width (1: greedy)", 1, 100)
    alpha: float = _option(0.6, "length-penalty exponent (Wu et al. 2016)")
    n_best: int = _option(1, "hypotheses per sentence, at most the beam", 1, 100)
    max_length_ratio: float = _option(1.5, "outputs stop after this x source tokens + the offset", 0, 10.0, True)
    max_length_offset: int = _option(
        10, f"outputs stop after the ratio x source tokens + this many (and at {MAX_OUTPUT_TOKENS:,})", 0, 1000
    )
    max_source_tokens: int = _option(250, "longer sources are truncated (with a warning count)", 1, 2048)
    batch_size: int = _option(
        64, "sentences per batch (long ones come in smaller batches: at most 2,048 source subwords)", 1, 4096
    )
    temperature: float | None = _option(
        None, "sample from softmax(logits / T) instead of searching (needs beam 1)", 0, None, True
    )
    top_k: int | None = _option(None, "sample from the K most likely tokens at each step (needs beam 1)", 1)
    seed: int = _option(0, "sampling seed: the same seed gives the same samples", 0, MAX_SEED)
    lm_weight: float = _option(0.2, "weight of the language model's log-probabilities (shallow fusion)")
    precision: str = dataclasses.field(
        default="float32",
        metadata={"doc": "bfloat16: products with bfloat16 weight copies (faster with AMX; outputs differ)"},
    )
    shortlist: bool = dataclasses.field(
        default=False, metadata={"doc": "score only the words in the model's shortlist.npz"}
    )

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or isinstance(value, (bool, str)):
                continue
            check_range(field, value, field.name)
        if self.precision not in SEARCH_PRECISIONS:
            raise ValueError(f"`precision` must be one of {SEARCH_PRECISIONS}. Received: precision={self.precision!r}")
        if self.sampling and self.beam_size != 1:
            raise ValueError(
                "sampling (temperature or top_k) draws one output per sentence and needs beam_size=1. "
                f"Received: beam_size={self.beam_size}"
            )
        if self.n_best > self.beam_size:
            raise ValueError(
                f"`n_best` must be at most `beam_size`. Received: n_best={self.n_best}, beam_size={self.beam_size}"
            )

    @property
    def sampling(self) -> bool:
        return self.temperature is not None or self.top_k is not None

    def replace(self, **changes) -> DecodingOptions:
        """A copy with `changes` (checked again)."""
        return dataclasses.replace(self, **changes)

    def search_arguments(self) -> dict:
        """The keyword arguments of :class:`~seq2seq.core.searcher.Searcher` these options set."""
        return {
            "beam_size": self.beam_size,
            "alpha": self.alpha,
            "max_length_ratio": self.max_length_ratio,
            "max_length_offset": self.max_length_offset,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "seed": self.seed if self.sampling else None,
            "early_stop": self.n_best == 1,  # the 1-best is exact; lower n-best entries need the rest
            "precision": self.precision,
        }

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_range(field: dataclasses.Field, value, name: str) -> None:
    """`ValueError` naming `name` when `value` is not finite or outside `field`'s range."""
    metadata = field.metadata
    problem = out_of_range(value, metadata.get("minimum"), metadata.get("maximum"), metadata.get("strict", False))
    if problem:
        raise ValueError(f"`{name}` {problem}. Received: {name}={value}")
