"""The language-model experiment config (`seq2seq lm train CONFIG`).

Each field documents one YAML key; `configs/lm_*.yaml` show them all with comments.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seq2seq.config import OptimizationConfig, RNNConfig, nested, option, require_unidirectional
from seq2seq.core.choices import TOKEN_LEVELS


@dataclasses.dataclass(frozen=True)
class LMDataConfig:
    """Where the text is and how it becomes tokens."""

    dir: str = option("../shared/data")  # relative file names below are under this folder
    train: str = option("ptb/ptb.train.txt", doc="training text, one sentence or line per line (plain or .gz)")
    valid: str | None = option(None)  # None: hold out `valid_fraction` of train's last lines
    test: str | None = option(None, doc="test text (null: none)")
    valid_fraction: float = option(
        0.0, minimum=0.0, maximum=0.5, doc="with valid null: the share of train's last lines held out for validation"
    )
    level: str = option("word", choices=TOKEN_LEVELS, doc="tokens: words, characters, or SentencePiece subwords")
    subword_model: str | None = option(
        None, doc="level subword: a SentencePiece model (e.g. a translation model's target.spm)"
    )
    max_vocab_size: int | None = option(
        None, minimum=5, doc="keep the most frequent words (null: all); the rest become <unk>"
    )
    min_frequency: int = option(1, minimum=1, doc="words seen fewer times become <unk>")

    def path(self, name: str | None) -> Path | None:
        """`name` resolved under `dir` (absolute names are kept)."""
        if name is None:
            return None
        return Path(self.dir) / name

    def __post_init__(self):
        if self.valid is None and self.valid_fraction == 0.0:
            raise ValueError(
                "set `data.valid` to a file or `data.valid_fraction` above 0: "
                "training needs validation text for perplexity and early stopping."
            )
        if self.valid is not None and self.valid_fraction > 0.0:
            raise ValueError("set either `data.valid` or `data.valid_fraction`, not both.")
        if (self.level == "subword") != (self.subword_model is not None):
            raise ValueError(
                "`data.subword_model` (a SentencePiece .spm file) goes with `data.level: subword`, "
                f"and only with it. Received: level={self.level!r}, subword_model={self.subword_model!r}"
            )


@dataclasses.dataclass(frozen=True)
class LMModelConfig:
    """Embedding, recurrent core and softmax."""

    embedding_dim: int = option(256, minimum=1, doc="token embedding size")
    rnn: RNNConfig = nested(RNNConfig)
    tie_embeddings: bool = option(
        False, doc="share the input embedding with the output layer (a projection bridges different sizes)"
    )

    def __post_init__(self):
        require_unidirectional(self.rnn, "model.rnn", "a language model predicts the next token from the past only")


@dataclasses.dataclass(frozen=True)
class LMTrainingConfig(OptimizationConfig):
    """Truncated back-propagation through time over the token stream."""

    batch_size: int = option(20, minimum=1)  # parallel streams
    window_length: int = option(35, minimum=2)  # tokens per back-propagation window


@dataclasses.dataclass(frozen=True)
class LMConfig:
    """A whole language-model experiment."""

    data: LMDataConfig = nested(LMDataConfig)
    model: LMModelConfig = nested(LMModelConfig)
    training: LMTrainingConfig = nested(LMTrainingConfig)
    run_dir: str = option(
        "runs/lm", doc="the run folder: checkpoints, logs, the resume backup and the best model (model/)"
    )
