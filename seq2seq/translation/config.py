"""The translation experiment config (`seq2seq train CONFIG`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from seq2seq.config import OptimizationConfig, RNNConfig, nested, option, require_unidirectional
from seq2seq.core.choices import ATTENTIONS, ENCODER_INPUTS, SUBWORD_MODEL_TYPES


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    """One parallel corpus: local files or a tensorflow-datasets split, with its sampling weight.

    Exactly one of `prefix` (files `{data.dir}/{prefix}.{language}[.gz]`) and
    `tfds` (a dataset name such as `wmt14_translate/de-en`, or `folder:PATH`
    for `tfds.folder_dataset.TranslateFolder`) is set. `tag` marks a
    synthetic corpus (back-translation): its text and a space go before each
    source sentence in training, so the model can tell real from synthetic
    sources (tagged back-translation, Caswell et al. 2019); nothing is put
    before the sentences it translates later.
    """

    prefix: str | None = option(None)
    tfds: str | None = option(None)
    split: str = option("train")  # the tfds split (tfds split strings: train[:10%], validation, ...)
    weight: float = option(1.0, minimum=0.0)  # training: share of the sampled pairs (relative to the others)
    name: str | None = option(None)  # label in logs and history.csv (default: the prefix's folder or the tfds name)
    tag: str | None = option(None)  # training: put before each source line of this corpus, e.g. "<bt>" (tagged BT)

    def __post_init__(self):
        if (self.prefix is None) == (self.tfds is None):
            raise ValueError(
                "a corpus sets exactly one of `prefix` (local files) and `tfds` (a dataset). "
                f"Received: prefix={self.prefix!r}, tfds={self.tfds!r}"
            )

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.prefix is not None:
            return Path(self.prefix).parent.name or Path(self.prefix).name
        return self.tfds.removeprefix("folder:").split("/")[0]


def corpora(*prefixes: str) -> tuple[CorpusConfig, ...]:
    return tuple(CorpusConfig(prefix=prefix) for prefix in prefixes)


# The one-corpus keys of version 0.1, read for old configs (the shipped models' config.yaml among them).
LEGACY_DATA_KEYS = {
    "train_prefix": ("train", "multi30k/train", "tfds_train_split", "train"),
    "valid_prefix": ("valid", "multi30k/val", "tfds_valid_split", "validation"),
    "test_prefix": ("test", "multi30k/test_2016_flickr", "tfds_test_split", "test"),
}


def upgrade_data_keys(data: dict, source: str) -> dict:
    """A `data:` section in the 0.1 spelling (`train_prefix`, `tfds_name`, ...) in today's (`train: [...]`)."""
    legacy = set(data) & ({"tfds_name"} | set(LEGACY_DATA_KEYS) | {value[2] for value in LEGACY_DATA_KEYS.values()})
    if not legacy:
        return data
    data = dict(data)
    tfds_name = data.pop("tfds_name", None)
    for prefix_key, (split, default, split_key, default_split) in LEGACY_DATA_KEYS.items():
        if split in data:
            raise ValueError(
                f"{source}: `data.{split}` and the older `data.{sorted(legacy)[0]}` do not go "
                f"together; write the corpora as `data.{split}: [{{prefix: ...}}]` only."
            )
        prefix = data.pop(prefix_key, default)
        tfds_split = data.pop(split_key, default_split)
        if tfds_name:
            data[split] = [{"tfds": tfds_name, "split": tfds_split}]
        else:
            data[split] = [] if prefix is None else [{"prefix": prefix}]
    return data


@dataclasses.dataclass(frozen=True)
class TranslationDataConfig:
    """Where the parallel text is: lists of corpora (local files or tensorflow-datasets).

    Training samples from the `train` corpora in proportion to their
    weights; validation BLEU is measured on each `valid` corpus and their
    mean is the figure that picks the best model. Configs in the older
    one-corpus spelling (`train_prefix`, `tfds_name`, `tfds_train_split`, ...)
    are still read (see :func:`upgrade_data_keys`).
    """

    dir: str = option("../shared/data")  # local prefixes below are relative to this folder
    source_language: str = option("de", doc="source language code (sentence splitting, reports)")
    target_language: str = option("en", doc="target language code")
    train: tuple[CorpusConfig, ...] = option(
        corpora("multi30k/train"), doc="training corpora: a list of {path or tfds, weight} entries, mixed by weight"
    )
    valid: tuple[CorpusConfig, ...] = option(
        corpora("multi30k/val"), doc="validation corpora (each scored on its own; the first selects the model)"
    )
    test: tuple[CorpusConfig, ...] = option(
        corpora("multi30k/test_2016_flickr"), doc="test corpora (for reports; never used for choices)"
    )
    tfds_data_dir: str | None = option(None)  # where tfds finds prepared datasets (null: its default)
    max_source_length: int = option(100, minimum=1)  # subword tokens; longer training pairs are dropped
    max_target_length: int = option(100, minimum=1, doc="subword tokens; longer training pairs are dropped")
    subword_sampling: float | None = option(
        None,
        minimum=0.0,
        maximum=1.0,
        doc="training pairs get a sampled segmentation each epoch (SentencePiece: BPE-dropout with this "
        "probability for bpe, the smoothing alpha for unigram); null: off. Validation and translation never sample",
    )

    @classmethod
    def upgrade_keys(cls, data: dict, source: str) -> dict:
        return upgrade_data_keys(data, source)

    def __post_init__(self):
        for split in ("train", "valid", "test"):
            labels = [corpus.label for corpus in getattr(self, split)]
            repeated = sorted({label for label in labels if labels.count(label) > 1})
            if repeated:
                raise ValueError(f"`data.{split}` has several corpora named {repeated[0]!r}; give each a `name`.")
        if self.train and not sum(corpus.weight for corpus in self.train) > 0:
            raise ValueError("the weights of `data.train` add up to 0; give at least one corpus a weight above 0.")

    def files(self, prefix: str) -> tuple[Path, Path]:
        """The source and target files for `prefix` (`.gz` if that exists)."""
        paths = []
        for language in (self.source_language, self.target_language):
            plain = Path(self.dir) / f"{prefix}.{language}"
            gzipped = plain.with_name(plain.name + ".gz")
            paths.append(gzipped if gzipped.exists() and not plain.exists() else plain)
        return paths[0], paths[1]


@dataclasses.dataclass(frozen=True)
class VocabularyConfig:
    """SentencePiece subwords, trained on the training text by `seq2seq build-vocab` or `train`."""

    model_type: str = option("bpe", choices=SUBWORD_MODEL_TYPES, doc="SentencePiece algorithm")
    size: int = option(8000, minimum=16, doc="subword vocabulary size (per language)")
    joint: bool = option(True)  # one model for both languages, or one per language
    character_coverage: float = option(
        1.0, minimum=0.9, maximum=1.0, doc="share of characters SentencePiece covers (the rest become <unk>)"
    )
    max_pairs: int = option(500_000, minimum=1)  # sentence pairs SentencePiece learns from (weighted sample)


@dataclasses.dataclass(frozen=True)
class EncoderConfig(RNNConfig):
    """The encoder: what it reads, and its recurrent core (the :class:`RNNConfig` keys).

    `input: tokens` reads subword ids (translation); `audio` log-mel frames
    (speech recognition) and `image` pictures (captioning), for
    `seq2seq perception train` (see :mod:`seq2seq.models.encoders`).
    """

    input: str = option(
        "tokens", choices=ENCODER_INPUTS, doc="what the encoder reads: subword tokens, audio frames or images"
    )
    frame_stack: int = option(1, minimum=1)  # audio: consecutive frames joined into one encoder step
    conv_filters: tuple[int, ...] = option((32, 64, 128))  # image: filters of each 3x3 conv + 2x2 pool block

    def __post_init__(self):
        super().__post_init__()
        if self.frame_stack != 1 and self.input != "audio":
            raise ValueError(
                f"key `frame_stack` applies to input: audio only. Received: input={self.input!r}, "
                f"frame_stack={self.frame_stack}"
            )
        if self.conv_filters != (32, 64, 128) and self.input != "image":
            raise ValueError(f"key `conv_filters` applies to input: image only. Received: input={self.input!r}")
        if not self.conv_filters or min(self.conv_filters) < 1:
            raise ValueError(
                f"key `conv_filters` must be one or more positive filter counts. Received: {list(self.conv_filters)}"
            )

    @property
    def core(self) -> dict:
        """The keyword arguments of the encoder's `RecurrentStack` (the `RNNConfig` fields)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(RNNConfig)}


@dataclasses.dataclass(frozen=True)
class TranslationModelConfig:
    """Encoder, decoder, attention.

    `dropout` applies to the source and target embeddings and the decoder
    outputs; `encoder.dropout` and `decoder.dropout` to the connections
    between the stacked layers of each core (no effect with one layer).
    """

    embedding_dim: int = option(256, minimum=1, doc="source and target embedding size")
    encoder: EncoderConfig = nested(EncoderConfig)
    decoder: RNNConfig = nested(RNNConfig)
    attention: str = option(
        "bahdanau", choices=ATTENTIONS, doc="none, additive (Bahdanau) or multiplicative with input feeding (Luong)"
    )
    attention_units: int = option(512, minimum=1, doc="size of the attention layer")
    dropout: float = option(0.3, minimum=0.0, maximum=0.99, doc="dropout on the embeddings and the decoder outputs")
    tie_embeddings: bool = option(False, doc="share the target embedding with the output layer")
    word_dropout: float = option(0.0, minimum=0.0, maximum=1.0)  # decoder inputs -> <unk> in training (1.0: always)

    def __post_init__(self):
        require_unidirectional(self.decoder, "model.decoder", "the decoder generates left to right")


@dataclasses.dataclass(frozen=True)
class TranslationTrainingConfig(OptimizationConfig):
    """Batching and loss on top of the shared optimisation keys."""

    max_tokens: int = option(4096, minimum=16)  # padded tokens per batch (source or target side)
    # One bucket per length up to 32, then wider: 64-sentence Multi30k batches are 4.7 % padding, against
    # 14.8 % with the earlier default (8, 12, 16, 20, 24, 32, 48, 64, 101); bench/results/issue13_speed.txt.
    bucket_boundaries: tuple[int, ...] = option(
        tuple(range(4, 33)) + tuple(range(34, 49, 2)) + (52, 56, 60, 64, 72, 80, 90, 101)
    )
    shuffle_buffer: int = option(30000, minimum=0, doc="examples in the shuffle buffer (0: no shuffling)")
    label_smoothing: float = option(0.1, minimum=0.0, maximum=0.99, doc="label smoothing of the training loss")
    validation_bleu: bool = option(True)  # greedy-decode the validation set and score it (sacrebleu) each epoch
    bleu_every_steps: int | None = option(None, minimum=1)  # also every N steps (null: epoch ends only)
    bleu_samples: int = option(3, minimum=0)  # sample translations printed with each validation BLEU
    select_by: str = option("bleu", choices=("bleu", "loss"))  # best model and early stopping: BLEU or loss
    keep_checkpoints: int = option(5, minimum=0)  # per-epoch weights kept for average-checkpoints (0: none)

    def __post_init__(self):
        boundaries = self.bucket_boundaries
        if not boundaries or any(b <= a for a, b in zip(boundaries, boundaries[1:])) or boundaries[0] < 2:
            raise ValueError(
                "key `training.bucket_boundaries` must be increasing token lengths of at least 2 "
                f"(the last one bounds the length). Received: {list(boundaries)}"
            )
        if self.select_by == "bleu" and not self.validation_bleu:
            raise ValueError(
                "key `training.select_by` is 'bleu' but `training.validation_bleu` is false: "
                "set validation_bleu: true, or select_by: loss."
            )
        if self.bleu_every_steps is not None and not self.validation_bleu:
            raise ValueError("key `training.bleu_every_steps` needs `training.validation_bleu: true`.")
        if self.bleu_every_steps is not None and self.ema_momentum is not None:
            raise ValueError(
                "keys `training.bleu_every_steps` and `training.ema_momentum` do not go together: "
                "mid-epoch BLEU would score the raw weights, not their average. Set one to null."
            )


@dataclasses.dataclass(frozen=True)
class TranslationConfig:
    """A whole translation experiment."""

    data: TranslationDataConfig = nested(TranslationDataConfig)
    vocabulary: VocabularyConfig = nested(VocabularyConfig)
    model: TranslationModelConfig = nested(TranslationModelConfig)
    training: TranslationTrainingConfig = nested(TranslationTrainingConfig)
    run_dir: str = option(
        "runs/translation", doc="the run folder: checkpoints, logs, the resume backup and the best model (model/)"
    )
