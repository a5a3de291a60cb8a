"""The speech-recognition and image-captioning experiment config (`seq2seq perception train CONFIG`)."""

from __future__ import annotations

import dataclasses

from seq2seq.config import OptimizationConfig, nested, option
from seq2seq.core.choices import MAX_SEED
from seq2seq.translation.config import TranslationModelConfig

TASKS = {"speech": "audio", "captions": "image"}  # data.task -> the model.encoder.input it needs
SPEEDS = (0.9, 1.0, 1.1)  # data.speeds by default (Ko et al. 2015)


@dataclasses.dataclass(frozen=True)
class PerceptionDataConfig:
    """What the examples are: connected spoken digits (FSDD) or synthetic captioned scenes.

    `speech` builds utterances from the recordings in `dir` (see
    :mod:`seq2seq.perception.digits`), holding `test_speaker` out of train
    and valid; `captions` draws scenes (see :mod:`seq2seq.perception.scenes`;
    `dir` is unused). Both are deterministic from `seed`.
    """

    task: str = option(
        "speech", choices=tuple(TASKS), doc="speech: connected digits from FSDD; captions: synthetic scenes"
    )
    dir: str = option("../shared/data/fsdd")  # speech: the Free Spoken Digit Dataset folder
    test_speaker: str = option("theo")  # speech: the speaker held out for testing
    valid_speaker: str | None = option(
        None, doc="speech: a speaker held out for validation (null: the other speakers' recordings 0-4)"
    )
    max_digits: int = option(7, minimum=1)  # speech: digits per utterance, 1 to this
    mel_bins: int = option(40, minimum=8)  # speech: log-mel filters per frame
    normalize_level: bool = option(
        False, doc="speech: each waveform scaled to peak 1 before its frames (false: as models trained before the key)"
    )
    trim_silence_db: float | None = option(
        None,
        minimum=10.0,
        maximum=120.0,
        doc="speech: frames more than this many dB below the utterance's loudest frame are cut from both ends, "
        "in training and transcription alike (null: none)",
    )
    speed_perturbation: bool = option(False)  # speech: each training utterance at one of `speeds`
    speeds: tuple[float, ...] = option(SPEEDS)  # speech: the speeds drawn from (uniformly), in tenths
    gain_db: tuple[float, ...] = option(
        (), doc="speech: [low, high]: each training utterance at a gain drawn from this range in dB ([]: none)"
    )
    noise_snr_db: tuple[float, ...] = option(
        (), doc="speech: [low, high]: white noise added to each training utterance at an SNR from this range in dB"
    )
    train_examples: int = option(8000, minimum=1, doc="training utterances or scenes drawn per epoch")
    valid_examples: int = option(400, minimum=1, doc="validation utterances or scenes")
    test_examples: int = option(500, minimum=1, doc="test utterances or scenes")
    seed: int = option(0, minimum=0, maximum=MAX_SEED, doc="seed of the drawn utterances and scenes")


@dataclasses.dataclass(frozen=True)
class PerceptionTrainingConfig(OptimizationConfig):
    """Batching and loss on top of the shared optimisation keys.

    The best model is the one with the lowest validation word error rate
    (`val_wer`: greedy search over `data.valid_examples`, scored with jiwer),
    or the lowest validation loss with `select_by: loss`.
    """

    batch_size: int = option(64, minimum=1, doc="examples per batch")
    label_smoothing: float = option(0.1, minimum=0.0, maximum=0.99, doc="label smoothing of the training loss")
    select_by: str = option(
        "wer", choices=("wer", "loss"), doc="best model and early stopping: word error rate or validation loss"
    )
    keep_checkpoints: int = option(5, minimum=0)  # per-epoch weights kept (0: none)
    augment: bool = option(False)  # speech: warp and mask the training frames (see seq2seq.perception.data.augment)
    time_masks: int = option(
        0, minimum=0, maximum=10, doc="speech: SpecAugment time masks on each training utterance (up to 10 frames)"
    )


@dataclasses.dataclass(frozen=True)
class PerceptionConfig:
    """A whole speech-recognition or captioning experiment."""

    data: PerceptionDataConfig = nested(PerceptionDataConfig)
    model: TranslationModelConfig = nested(TranslationModelConfig)
    training: PerceptionTrainingConfig = nested(PerceptionTrainingConfig)
    run_dir: str = option(
        "runs/perception", doc="the run folder: checkpoints, logs, the resume backup and the best model (model/)"
    )

    def __post_init__(self):
        if self.data.speed_perturbation and self.data.task != "speech":
            raise ValueError("key `data.speed_perturbation` applies to data.task: speech only; set it to false.")
        if self.data.speeds != SPEEDS and not self.data.speed_perturbation:
            raise ValueError("key `data.speeds` applies with data.speed_perturbation: true only; set that too.")
        if not self.data.speeds or any(round(10 * s) != 10 * s or not 0.5 <= s <= 2 for s in self.data.speeds):
            raise ValueError(
                f"key `data.speeds` must be one or more speeds in tenths from 0.5 to 2.0, e.g. "
                f"[0.9, 1.0, 1.1]. Received: data.speeds={list(self.data.speeds)}"
            )
        if self.data.normalize_level and self.data.task != "speech":
            raise ValueError("key `data.normalize_level` applies to data.task: speech only; set it to false.")
        if self.data.trim_silence_db is not None and self.data.task != "speech":
            raise ValueError("key `data.trim_silence_db` applies to data.task: speech only; set it to null.")
        if self.data.valid_speaker is not None and self.data.valid_speaker == self.data.test_speaker:
            raise ValueError("keys `data.valid_speaker` and `data.test_speaker` must name different speakers.")
        for key in ("gain_db", "noise_snr_db"):
            values = getattr(self.data, key)
            if values and (len(values) != 2 or values[0] > values[1] or not -60 <= values[0] <= values[1] <= 60):
                raise ValueError(
                    f"key `data.{key}` must be [] or [low, high] with -60 <= low <= high <= 60 (decibels). "
                    f"Received: data.{key}={list(values)}"
                )
            if values and self.data.task != "speech":
                raise ValueError(f"key `data.{key}` applies to data.task: speech only; set it to [].")
        if self.training.time_masks and self.data.task != "speech":
            raise ValueError("key `training.time_masks` applies to data.task: speech only; set it to 0.")
        if self.training.augment and self.data.task != "speech":
            raise ValueError("key `training.augment` applies to data.task: speech only; set it to false.")
        wanted = TASKS[self.data.task]
        if self.model.encoder.input != wanted:
            raise ValueError(
                f"data.task: {self.data.task} reads {wanted}: set model.encoder.input: {wanted}. "
                f"Received: model.encoder.input={self.model.encoder.input!r}"
            )
