"""The translation experiment config (`seq2seq train CONFIG`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seq2seq.config import OptimizationConfig, RNNConfig, nested, option, require_unidirectional
from seq2seq.core.specials import ATTENTIONS, SUBWORD_MODEL_TYPES


@dataclasses.dataclass(frozen=True)
class TranslationDataConfig:
    """Where the parallel text is: local files or a tensorflow-datasets name."""

    dir: str = option("../shared/data")  # local file names below are relative to this folder
    source_language: str = option("de")
    target_language: str = option("en")
    # Local parallel files: `{prefix}.{language}` or `{prefix}.{language}.gz` under `dir`.
    train_prefix: str | None = option("multi30k/train")
    valid_prefix: str | None = option("multi30k/val")
    test_prefix: str | None = option("multi30k/test_2016_flickr")
    # Or tfds (used when `tfds_name` is set): a dataset name such as wmt14_translate/de-en, or
    # folder:PATH for local files PATH/<language>.<split>.txt read by tfds.folder_dataset.TranslateFolder.
    tfds_name: str | None = option(None)
    tfds_data_dir: str | None = option(None)
    tfds_train_split: str = option("train")
    tfds_valid_split: str = option("validation")
    tfds_test_split: str = option("test")
    max_source_length: int = option(100, minimum=1)  # subword tokens; longer training pairs are dropped
    max_target_length: int = option(100, minimum=1)

    def files(self, prefix: str | None) -> tuple[Path, Path] | None:
        """The source and target files for `prefix` (`.gz` if that exists)."""
        if prefix is None:
            return None
        paths = []
        for language in (self.source_language, self.target_language):
            plain = Path(self.dir) / f"{prefix}.{language}"
            gzipped = plain.with_name(plain.name + ".gz")
            paths.append(gzipped if gzipped.exists() and not plain.exists() else plain)
        return paths[0], paths[1]


@dataclasses.dataclass(frozen=True)
class VocabularyConfig:
    """SentencePiece subwords, trained on the training text by `seq2seq build-vocab` or `train`."""

    model_type: str = option("bpe", choices=SUBWORD_MODEL_TYPES)
    size: int = option(8000, minimum=16)
    joint: bool = option(True)  # one model for both languages, or one per language
    character_coverage: float = option(1.0, minimum=0.9, maximum=1.0)


@dataclasses.dataclass(frozen=True)
class TranslationModelConfig:
    """Encoder, decoder, attention.

    `dropout` applies to the source and target embeddings and the decoder
    outputs; `encoder.dropout` and `decoder.dropout` to the connections
    between the stacked layers of each core (no effect with one layer).
    """

    embedding_dim: int = option(256, minimum=1)
    encoder: RNNConfig = nested(RNNConfig)
    decoder: RNNConfig = nested(RNNConfig)
    attention: str = option("bahdanau", choices=ATTENTIONS)
    attention_units: int = option(512, minimum=1)
    dropout: float = option(0.3, minimum=0.0, maximum=0.99)
    tie_embeddings: bool = option(False)

    def __post_init__(self):
        require_unidirectional(self.decoder, "model.decoder", "the decoder generates left to right")


@dataclasses.dataclass(frozen=True)
class TranslationTrainingConfig(OptimizationConfig):
    """Batching and loss on top of the shared optimisation keys."""

    max_tokens: int = option(4096, minimum=16)  # padded tokens per batch (source or target side)
    bucket_boundaries: tuple[int, ...] = option((8, 12, 16, 20, 24, 32, 48, 64, 101))
    shuffle_buffer: int = option(30000, minimum=0)
    label_smoothing: float = option(0.1, minimum=0.0, maximum=0.99)
    validation_bleu: bool = option(True)  # greedy-decode the validation set and score it (sacrebleu) each epoch
    bleu_every_steps: int | None = option(None, minimum=1)  # also every N steps (null: epoch ends only)
    bleu_samples: int = option(3, minimum=0)  # sample translations printed with each validation BLEU
    select_by: str = option("bleu", choices=("bleu", "loss"))  # best model and early stopping: BLEU or loss
    keep_checkpoints: int = option(5, minimum=0)  # per-epoch weights kept for average-checkpoints (0: none)

    def __post_init__(self):
        if self.select_by == "bleu" and not self.validation_bleu:
            raise ValueError("key `training.select_by` is 'bleu' but `training.validation_bleu` is false: "
                             "set validation_bleu: true, or select_by: loss.")
        if self.bleu_every_steps is not None and not self.validation_bleu:
            raise ValueError("key `training.bleu_every_steps` needs `training.validation_bleu: true`.")
        if self.bleu_every_steps is not None and self.ema_momentum is not None:
            raise ValueError("keys `training.bleu_every_steps` and `training.ema_momentum` do not go together: "
                             "mid-epoch BLEU would score the raw weights, not their average. Set one to null.")


@dataclasses.dataclass(frozen=True)
class TranslationConfig:
    """A whole translation experiment."""

    data: TranslationDataConfig = nested(TranslationDataConfig)
    vocabulary: VocabularyConfig = nested(VocabularyConfig)
    model: TranslationModelConfig = nested(TranslationModelConfig)
    training: TranslationTrainingConfig = nested(TranslationTrainingConfig)
    run_dir: str = option("runs/translation")
